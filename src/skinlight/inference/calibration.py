"""Temperature scaling (Guo et al. 2017): one T > 0 fitted on held-out probabilities, softmax(log(p) / T).

The log-probabilities of a softmax are its logits up to a per-row constant, so scaling them is exact
temperature scaling of the network's logits. It leaves every row's argmax, hence accuracy, unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

TEMPERATURE_RANGE = (1e-2, 1e2)  # the temperatures fit_temperature returns


def _log_probs(probs: Tensor) -> Tensor:
    return probs.double().clamp_min(1e-12).log()


def nll(probs: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood of the labels (N,) under (N, C) probabilities."""
    return float(F.nll_loss(_log_probs(probs), labels.long()))


def apply_temperature(probs: Tensor, temperature: float) -> Tensor:
    """(N, C) probabilities scaled by `temperature`: softmax(log(probs) / T), in the dtype of `probs`."""
    return (_log_probs(probs) / temperature).softmax(1).to(probs.dtype)


def fit_temperature(probs: Tensor, labels: Tensor) -> float:
    """The T minimising the NLL of softmax(log(probs) / T) for labels (N,): L-BFGS on log T from T = 1,
    clipped to TEMPERATURE_RANGE (perfectly separated data drive T towards 0)."""
    log_probs, labels = _log_probs(probs), labels.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], max_iter=100, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(log_probs / log_t.exp(), labels)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return float(log_t.detach().exp().clamp(*TEMPERATURE_RANGE))
