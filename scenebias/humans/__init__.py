"""Human boxes per frame: the paper's masking rule, and the backends that produce the boxes."""
