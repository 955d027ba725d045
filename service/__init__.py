"""genseq serving: FastAPI + onnxruntime over the models in `exported/`.

Nothing here imports torch or `training`: the only hand-over from training is `exported/`.
"""
