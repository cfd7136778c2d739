"""Hardware cost of a network on an accelerator: energy (pJ), latency (cycles), EDP, per fidelity.

A network is the layer list of the real torch model (:func:`..networks.layer_list`); layers run one
after another, so network energy and latency are the sums over layers.  EDP is reported in
``uJ*ms`` (energy in microjoules times delay in milliseconds at the 1 GHz clock of
:data:`.accelerator.CLOCK_HZ`; 1 uJ*ms = 1e-9 J*s).

Fidelities (caller picks by name):

* ``zigzag-fixed`` (default): ZigZag cost model, fixed dataflow-derived temporal mapping;
* ``zigzag``: ZigZag with the LOMA temporal-mapping search (``lpf_limit``);
* ``scalesim``: Scale-Sim cycles with energy from its access counts (reference tier).

Results are cached per (layer shape, accelerator, fidelity) in :class:`.cache.LayerCostCache`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..networks import Layer
from .accelerator import CLOCK_HZ, AccelConfig
from .zigzag_backend import Infeasible, zigzag_layer_cost

FIDELITIES = ("zigzag-fixed", "zigzag", "scalesim")
DEFAULT_LPF_LIMIT = 6


def check_fidelity(fidelity: str) -> str:
    if fidelity not in FIDELITIES:
        raise ValueError(f"unknown fidelity {fidelity!r}; allowed: {list(FIDELITIES)}")
    return fidelity


def layer_shape(layer: Layer) -> tuple:
    """The part of a layer that determines its cost (names and positions do not)."""
    return (layer.cin, layer.cout, layer.k, layer.stride, layer.pad, layer.ih, layer.iw, layer.oh, layer.ow)


def layer_from_shape(shape: tuple, name: str = "layer") -> Layer:
    cin, cout, k, stride, pad, ih, iw, oh, ow = shape
    return Layer(name, "conv", cin, cout, k, stride, pad, ih, iw, oh, ow)


def simulate_layer(shape: tuple, acc: AccelConfig, fidelity: str, lpf_limit: int = DEFAULT_LPF_LIMIT) -> dict[str, Any]:
    """One simulator call. Returns costs, or ``{'infeasible': reason}`` for an unmappable layer."""
    layer = layer_from_shape(shape)
    try:
        if fidelity == "zigzag-fixed":
            return zigzag_layer_cost(layer, acc, search=False)
        if fidelity == "zigzag":
            return zigzag_layer_cost(layer, acc, search=True, lpf_limit=lpf_limit)
        if fidelity == "scalesim":
            from .scalesim_backend import scalesim_layer_cost

            return scalesim_layer_cost(layer, acc)
    except Infeasible as e:
        return {"infeasible": str(e)}
    raise ValueError(f"unknown fidelity {fidelity!r}; allowed: {list(FIDELITIES)}")


def edp_uj_ms(energy_pj: Any, cycles: Any) -> Any:
    """Energy-delay product in uJ x ms of an energy in pJ and a latency in cycles at ``CLOCK_HZ``
    (floats or numpy arrays alike)."""
    return (energy_pj * 1e-6) * (cycles / CLOCK_HZ * 1e3)


def network_cost(layers: Sequence[Layer], acc: AccelConfig,
                 layer_costs: Callable[[list[tuple], AccelConfig], list[dict]], per_layer: bool = False) -> dict[str, Any]:
    """Sum per-layer costs into network energy, latency and EDP; infeasible if any layer is."""
    shapes = [layer_shape(l) for l in layers]
    costs = layer_costs(shapes, acc)
    bad = [(l.name, c["infeasible"]) for l, c in zip(layers, costs) if "infeasible" in c]
    out: dict[str, Any]
    if bad:
        out = {"energy_pJ": float("nan"), "latency_cycles": float("nan"), "edp": float("inf"),
               "hw_feasible": False, "hw_reason": f"layer {bad[0][0]}: {bad[0][1]}"}
    else:
        energy = sum(c["energy_pJ"] for c in costs)
        cycles = sum(c["latency_cycles"] for c in costs)
        out = {"energy_pJ": energy, "latency_cycles": cycles,
               "edp": edp_uj_ms(energy, cycles), "hw_feasible": True, "hw_reason": ""}
    if per_layer:
        out["layers"] = [dict(name=l.name, shape=s, **c) for l, s, c in zip(layers, shapes, costs)]
    return out


def accel_config(config: Mapping[str, Any]) -> AccelConfig:
    """Validated accelerator part of a (joint) config."""
    return AccelConfig.from_config(config)
