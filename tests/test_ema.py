"""callbacks=ema: an exponential moving average of the weights, validated, checkpointed, tested and resumed."""

import json

import lightning.pytorch as L
import pytest
import torch
from omegaconf import open_dict

from skinlight.train import run

DECAY = 0.5  # far from the raw weights after one step, and cheap to follow by hand
EMA = [
    "callbacks=ema",
    f"callbacks.ema.decay={DECAY}",
    "trainer.max_epochs=3",
    "callbacks.early_stopping=null",
    "intervals.resamples=0",
    "optimizer.lr=0.01",
]


def params(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


class WeightProbe(L.Callback):
    """The raw weights after every optimizer step, those validation and the test step run with (after
    the EMA callback's hooks: it is listed after it). Class-level: run() builds the instance."""

    steps: list = []
    validated: list = []
    tested: list = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        WeightProbe.steps.append(params(pl_module))

    def on_validation_epoch_start(self, trainer, pl_module):
        if not trainer.sanity_checking:
            WeightProbe.validated.append((len(WeightProbe.steps), params(pl_module)))

    def on_test_epoch_start(self, trainer, pl_module):
        WeightProbe.tested.append(params(pl_module))


class Interrupt(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def run_in(make_cfg, run_dir, *overrides) -> dict:
    cfg = make_cfg(*EMA, *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    run(cfg, run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


def ema_after(steps: list[dict], n: int) -> dict:
    """The average after the first n optimizer steps: a copy at the first, then decay x avg + (1 - decay) x w."""
    average = dict(steps[0])
    for weights in steps[1:n]:
        average = {k: DECAY * average[k] + (1 - DECAY) * weights[k] for k in average}
    return average


def close(a: dict, b: dict) -> bool:
    return all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_validation_checkpoints_and_test_use_the_average(make_cfg, tmp_path):
    WeightProbe.steps, WeightProbe.validated, WeightProbe.tested = [], [], []
    run_in(make_cfg, tmp_path, f"+callbacks.probe._target_={__name__}.WeightProbe")
    steps = WeightProbe.steps
    assert len(steps) == 12 and len(WeightProbe.validated) == 3
    for n, validated in WeightProbe.validated:  # every validation ran on the average of the steps so far
        assert close(validated, ema_after(steps, n)) and not close(validated, steps[n - 1])

    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    state = {k: v for k, v in last["state_dict"].items() if k in steps[0]}
    raw = {k: v for k, v in last["current_model_state"].items() if k in steps[0]}
    assert close(state, ema_after(steps, 12)) and close(raw, steps[-1]) and not close(state, raw)
    assert int(last["averaging_state"]["n_averaged"]) == 12

    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    best_state = {k: v for k, v in best["state_dict"].items() if k in steps[0]}
    assert close(best_state, WeightProbe.validated[best["epoch"]][1])  # best.ckpt: the average it validated
    (tested,) = WeightProbe.tested
    assert close(tested, best_state)  # the test step ran with best.ckpt's average, not its raw weights
    assert not close(tested, {k: v for k, v in best["current_model_state"].items() if k in steps[0]})


def test_a_resume_keeps_the_average(make_cfg, tmp_path):
    deterministic = "trainer.deterministic=true"
    expected = run_in(make_cfg, tmp_path / "full", deterministic)
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_in(make_cfg, crashed, deterministic, f"+callbacks.interrupt._target_={__name__}.Interrupt")
    assert "current_model_state" in torch.load(crashed / "checkpoints" / "last.ckpt", weights_only=True)

    assert run_in(make_cfg, crashed, deterministic, "ckpt_path=last") == expected
    full, resumed = (
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True) for d in (tmp_path / "full", crashed)
    )
    for key in ("state_dict", "current_model_state"):  # the average and the raw weights both continued
        assert close(full[key], resumed[key])
