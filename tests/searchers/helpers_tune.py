"""A Tune ``param_space`` of every searchable domain (and constants, nested) and two minimised
metrics, shared by the test modules of the adapter and of the param_space conversion."""

from ray import tune

PARAMS = {"c": tune.choice([8, 16, 32]), "n": tune.randint(1, 4), "q": tune.qrandint(0, 10, 5),
          "u": tune.quniform(0, 1, 0.25), "x": tune.uniform(0, 1), "lr": tune.loguniform(1e-4, 1e-1),
          "tag": "zdt", "opt": {"name": "sgd", "m": tune.choice(["a", "b"])}}
MO = dict(metric=["f1", "f2"], mode=["min", "min"])
