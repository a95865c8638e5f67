"""scenebias: learning to mitigate scene bias in action recognition, as a Snakemake workflow."""

__version__ = "0.1.0"
