"""ZigZag (zigzag-dse 3.9.1) cost of one layer on one accelerator, in memory, two fidelities.

* ``zigzag-fixed``: the spatial mapping given by the dataflow and one fixed, dataflow-derived
  temporal loop order (no mapping search).  Loops are listed innermost first, each split into its
  prime factors so ZigZag's memory allocator can place parts of a loop at different levels:

  - ``ws``: OX, OY, B, FX, FY, C, K (weights stay in the PE while outputs stream),
  - ``os``: FX, FY, C, OX, OY, B, K (partial sums stay while the reduction runs),
  - ``is``: K, FX, FY, C, OX, OY, B (inputs stay while output channels stream).

* ``zigzag``: ZigZag's LOMA temporal-mapping search with ``lpf_limit`` (default 6), keeping the
  mapping of minimal EDP.

Everything runs in memory: no yaml, no output folders, ZigZag's logging off.  A layer the
accelerator cannot hold (e.g. an output RF smaller than one 16-bit partial sum) raises
:class:`Infeasible` with ZigZag's reason.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from ..networks import Layer
from .accelerator import PRECISION, SPATIAL, AccelConfig, zigzag_accelerator_dict

#: loop order per dataflow, innermost first
LOOP_ORDER = {
    "ws": ("OX", "OY", "B", "FX", "FY", "C", "K"),
    "os": ("FX", "FY", "C", "OX", "OY", "B", "K"),
    "is": ("K", "FX", "FY", "C", "OX", "OY", "B"),
}


class Infeasible(Exception):
    """The accelerator cannot run this layer; the message says why."""


def _quiet_zigzag() -> None:
    logging.getLogger("zigzag").setLevel(logging.ERROR)


def _prime_factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out + ([n] if n > 1 else [])


@lru_cache(maxsize=256)
def _accelerator(acc: AccelConfig) -> Any:
    from zigzag.parser.accelerator_factory import AcceleratorFactory
    from zigzag.parser.accelerator_validator import AcceleratorValidator

    validator = AcceleratorValidator(zigzag_accelerator_dict(acc))
    data = validator.normalized_data
    if not validator.validate():
        raise Infeasible(f"ZigZag rejects accelerator {acc}: {validator.validator.errors}")
    return AcceleratorFactory(data).create()


def _layer_dict(layer: Layer) -> dict:
    s = layer.stride
    return {
        "id": 0, "name": layer.name, "operator_type": "Conv",
        "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [1, layer.cout, layer.cin, layer.oh, layer.ow, layer.k, layer.k],
        "operand_precision": dict(PRECISION),
        "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [layer.iw, layer.ih],
        "padding": [[layer.pad, layer.pad], [layer.pad, layer.pad]],
    }


def _workload(layer: Layer, acc: AccelConfig) -> Any:
    from zigzag.parser.mapping_validator import MappingValidator
    from zigzag.parser.workload_factory import WorkloadFactory
    from zigzag.parser.workload_validator import WorkloadValidator

    d1, d2 = SPATIAL[acc.dataflow]
    mapping = [{"name": "default", "spatial_mapping": {"D1": [f"{d1}, {acc.X1}"], "D2": [f"{d2}, {acc.X2}"]},
                "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]
    mv = MappingValidator(mapping)
    mapping = mv.normalized_data
    wv = WorkloadValidator([_layer_dict(layer)])
    data = wv.normalized_data
    if not (mv.validate() and wv.validate()):
        raise ValueError(f"ZigZag rejects layer {layer}")
    return WorkloadFactory(data, mapping).create()


def _fixed_stage():
    """A temporal-mapping stage that yields the single dataflow-derived loop order."""
    from zigzag.opt.loma.engine import LomaEngine
    from zigzag.opt.loma.memory_allocator import MemoryAllocator
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage

    class FixedTemporalMappingStage(TemporalMappingGeneratorStage):
        def generate_temporal_mappings(self):
            engine = LomaEngine(accelerator=self.accelerator, layer=self.layer, spatial_mapping=self.spatial_mapping,
                                mapping_type=self.mapping_type, **self.kwargs)
            loops = {str(dim): (dim, size) for dim, size in engine.get_temporal_loops().items()}
            ordering = [(loops[name][0], f) for name in LOOP_ORDER[self.kwargs["dataflow"]] if name in loops
                        for f in _prime_factors(loops[name][1])]
            yield MemoryAllocator(self.accelerator, self.layer, self.spatial_mapping, ordering,
                                  self.mapping_type).run()

    return FixedTemporalMappingStage


def zigzag_layer_cost(layer: Layer, acc: AccelConfig, search: bool = False, lpf_limit: int = 6) -> dict[str, float]:
    """``{'energy_pJ', 'latency_cycles', 'compute_cycles'}`` of one layer; :class:`Infeasible` if unmappable."""
    _quiet_zigzag()
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.opt.loma.engine import NoValidLoopOrderingFoundException
    from zigzag.opt.loma.memory_allocator import MemoryHierarchyTooSmallException, MemoryTooSmallException
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage, SumStage
    from zigzag.stages.workload_iterator import WorkloadStage

    temporal = TemporalMappingGeneratorStage if search else _fixed_stage()
    stages = [SumStage, WorkloadStage, MinimalEDPStage, SpatialMappingGeneratorStage, MinimalEDPStage,
              temporal, CostModelStage]
    try:
        main = MainStage(stages, accelerator=_accelerator(acc), workload=_workload(layer, acc),
                         loma_lpf_limit=lpf_limit, loma_show_progress_bar=False, dataflow=acc.dataflow,
                         nb_mappings_generated=1, enable_mix_spatial_mapping_generation=False,
                         access_same_data_considered_as_no_access=True,
                         temporal_mapping_type=TemporalMappingType("uneven"))
        cme = main.run()[0][0]
    except (MemoryTooSmallException, MemoryHierarchyTooSmallException, NoValidLoopOrderingFoundException) as e:
        raise Infeasible(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    except AssertionError as e:
        raise Infeasible(f"ZigZag assertion: {e}") from None
    # latency = compute cycles of the temporal mapping + stalls + data on/off-loading + systolic drain
    return {"energy_pJ": float(cme.energy_total), "latency_cycles": float(cme.latency_total2),
            "compute_cycles": float(cme.ideal_temporal_cycle)}
