"""Dataset adapters: each reads one dataset family's official lists into the shared manifest layout.

An adapter returns a DataFrame with columns video_id, path (relative to the video root, POSIX), label (0-based
int), label_name and one `split<k>` column per official split whose values name the video's role in that split
(train, test, or another evaluation set; empty when unused).
"""

from scenebias.datasets.ucf_lists import read_ucf_style  # noqa: F401
