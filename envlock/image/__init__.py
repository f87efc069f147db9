"""OCI images of lock targets: reproducible layers, image layouts, and where images come from and go to."""
