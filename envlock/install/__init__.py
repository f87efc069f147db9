"""Installing a lock on this node: pick the target, plan what to fetch and build, then do it."""
