"""The explanation sanity check (Adebayo et al. 2018): maps that explain the model change when
its weights are randomized; a map that ignores the model does not, and must fail."""

from __future__ import annotations

import torch

from convnets.models.building import create_model
from convnets.report.attribution import edge_map, grad_cam, saliency, smoothgrad
from convnets.report.inspection import conv_layers
from convnets.report.sanity import PASS_BELOW, cascading_randomization, weighted_layers


def _toy():
    torch.manual_seed(0)
    return create_model("cnn", 1, 4, 16, {"channels": [4, 8], "hidden": 8}).eval()


def test_randomizing_the_layers_breaks_model_dependent_maps_but_not_an_edge_detector():
    model = _toy()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, targets = torch.rand(4, 1, 16, 16), torch.arange(4)
    methods = {
        "saliency": saliency,
        "smoothgrad": lambda m, x, t: smoothgrad(m, x, t, samples=4),
        "grad_cam": lambda m, x, t: grad_cam(m, conv_layers(m)[-1][1], x, t),
        "edges": edge_map,
    }
    results = {r.method: r for r in cascading_randomization(model, x, targets, methods, seed=0)}
    names = [name for name, _ in weighted_layers(model)]
    assert all(r.layers == names and len(r.correlations) == len(names) for r in results.values())
    for method in ("saliency", "smoothgrad", "grad_cam"):
        assert results[method].final < PASS_BELOW and results[method].passed, results[method]
    assert min(results["edges"].correlations) > 0.99
    assert not results["edges"].passed and "FAILS" in results["edges"].verdict
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the model itself was changed"
