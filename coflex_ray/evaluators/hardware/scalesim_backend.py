"""Scale-Sim (scalesim 3.0.0) cycles of one layer on a systolic array, driven in memory.

Scale-Sim is trace-driven and cycle-accurate for an X1 x X2 systolic array with the ``os``, ``ws`` or
``is`` dataflow; it is the reference tier (seconds per layer), not the search tier.  It models the
array and the SRAM/DRAM traffic but not register files, so X3..X6 have no effect here.

Energy is not computed by Scale-Sim.  We take its SRAM and DRAM access counts (1-byte words) and
the template's per-access energies (:mod:`.accelerator`) scaled per byte: SRAM read 208.08 / 8,
write 189.2 / 8 pJ per byte; DRAM read 700 / 8, write 750 / 8 pJ per byte; plus 0.04 pJ per MAC.

Buffers: 512 KB ifmap, 1 MB filter, 512 KB ofmap SRAM (the template's two 1 MB SRAMs), one bank
each, Scale-Sim's default CALC bandwidth mode.  Scale-Sim has no padding, so the padded input size
is passed.  Its failure modes (``exit()`` on missing files, assertions on bank/bandwidth mismatch,
division by zero on empty arrays) become :class:`Infeasible`.
"""

from __future__ import annotations

import contextlib
import io

from ..networks import Layer
from .accelerator import DRAM_READ_PJ, DRAM_WRITE_PJ, MAC_PJ, SRAM_READ_PJ, SRAM_WRITE_PJ, AccelConfig
from .zigzag_backend import Infeasible

IFMAP_KB, FILTER_KB, OFMAP_KB = 512, 1024, 512


def scalesim_layer_cost(layer: Layer, acc: AccelConfig) -> dict[str, float]:
    """``{'energy_pJ', 'latency_cycles'}`` of one layer from Scale-Sim; :class:`Infeasible` on failure."""
    from scalesim.layout_utils import layouts
    from scalesim.scale_config import scale_config
    from scalesim.single_layer_sim import single_layer_sim
    from scalesim.topology_utils import topologies

    cfg = scale_config()
    cfg.set_arr_dims(acc.X1, acc.X2)
    cfg.set_dataflow(acc.dataflow)
    cfg.set_buffer_sizes_kb(IFMAP_KB, FILTER_KB, OFMAP_KB)
    cfg.ifmap_sram_bank_num = cfg.filter_sram_bank_num = 1
    cfg.valid_conf_flag = True
    topo = topologies()
    side = layer.ih + 2 * layer.pad
    topo.topo_arrays = [[layer.name, side, layer.iw + 2 * layer.pad, layer.k, layer.k, layer.cin, layer.cout,
                         layer.stride, layer.stride, 1, 1]]
    topo.num_layers, topo.topo_load_flag = 1, True
    topo.topo_calc_hyperparams()
    sim = single_layer_sim()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            sim.set_params(layer_id=0, config_obj=cfg, topology_obj=topo, layout_obj=layouts(), verbose=False)
            sim.run()
            sim.calc_report_data()
    except (SystemExit, AssertionError, ZeroDivisionError, IndexError, ValueError) as e:
        raise Infeasible(f"Scale-Sim {type(e).__name__}: {e}") from None
    total_cycles, compute_cycles = (float(x) for x in sim.get_compute_report_items()[:2])
    d = [float(x) for x in sim.get_detail_report_items()]
    sram_reads, sram_writes = d[2] + d[5], d[8]
    dram_reads, dram_writes = d[11] + d[14], d[17]
    energy = (layer.macs * MAC_PJ + sram_reads * SRAM_READ_PJ / 8 + sram_writes * SRAM_WRITE_PJ / 8
              + dram_reads * DRAM_READ_PJ / 8 + dram_writes * DRAM_WRITE_PJ / 8)
    return {"energy_pJ": energy, "latency_cycles": total_cycles, "compute_cycles": compute_cycles}
