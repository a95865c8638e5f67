"""The authors' released preprocessing for Mini-Kinetics-200, as the backends `humans.backend: released` and
`scene.backend: released` (docs/design.md §2f has the formats and where we depart from the official code).

Both releases (vt-vl-lab/SDN README: `detections.zip`, `places_data.zip`) are `.npy` files holding a pickled dict,
read by the official `datasets/kinetics.py` with `np.load(file).item()`. We never unpickle them freely
(`scenebias.released.unpickle`). Each file set is read once per run by the backend's prepare step into an indexed
store of plain `.npy` arrays (memory-mapped by the per-shard jobs, which then take only their videos):

- detections (`scenebias.released.detections`): `dets[class_dir][clip_dir[:11]][frame]['human_boxes']` -> (N, 5)
  x1, y1, x2, y2, score, in pixels of the official JPEGs (`ffmpeg -vf scale=-1:240`: 240 high), `frame` the
  1-based JPEG index at the video's native rate;
- Places365 labels (`scenebias.released.places`): `pred[class_dir][youtube_id]` -> {'pred_cls': an int or one per
  frame, 'probs': 365 values or one row per frame}; the soft label is the mean over frames, the hard one the
  majority vote of `pred_cls` (`np.bincount(...).argmax()`).

A video of ours is found by its YouTube id (the clip name without `_<start>_<end>`), under the class its manifest
gives when the id appears in several classes.
"""
