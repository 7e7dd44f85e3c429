"""A Flower app of hospitals training one model under fedsecure's protection."""
