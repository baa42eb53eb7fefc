def layer_scale(depth_index):
    """Deeper blocks add less (a residual scale by depth)."""
    return 1.0 / (depth_index + 1)
