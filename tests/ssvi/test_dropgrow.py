"""Drop/grow must help: the paired comparison of issue 2 on the bundled digits data.

Setting (issue 2): conv 1->32, conv 32->64, max-pool, linear 1024->128->10; first conv dense, the
rest at density 0.1; SGD (momentum 0.9, lr 0.05, cosine), kl_weight 0.1, 20 epochs, an update
every 25 steps; fixed-mask baseline = same init, mask and data order with no updates (alpha 0).
The means are initialised by torch's own layer initialisation (``mu_init: copy``: uniform with the
*dense* fan-in), prior_std 1, batch 64. Measured: +2.4 points (seeds 0/1/2: +1.1, +2.2, +3.9),
fixed-mask nets at 92-96% (not collapsed). With the fan-in corrected to the active fan-in
(``mu_init: kaiming``) both nets reach ~97% and the gain is +0.3 points: on digits, drop/grow
mainly repairs a poorly scaled sparse start.
"""

import pytest

from ssvi.config import make_config
from ssvi.train import Trainer

SETTING = dict(
    dataset="digits", model="cnn", density=0.1, distribution="uniform", optimizer="sgd",
    momentum=0.9, lr=0.05, kl_weight=0.1, epochs=20, update_interval=25, mu_init="copy",
    prior_std=1.0, batch_size=64, eval_samples=1,
)  # fmt: skip


@pytest.mark.slow
def test_drop_grow_beats_fixed_mask(digits) -> None:
    gains, fixed_accs = [], []
    for seed in (0, 1, 2):
        accs = {}
        for alpha in (0.3, 0.0):
            trainer = Trainer(make_config({**SETTING, "seed": seed, "alpha": alpha}), digits)
            if alpha == 0.0:
                assert trainer.subspace.schedule is None
            result = trainer.fit()
            accs[alpha] = result.metrics["test_accuracy_mean_weights"]
        gains.append(accs[0.3] - accs[0.0])
        fixed_accs.append(accs[0.0])
    assert min(fixed_accs) > 0.5  # the baseline learns: a win over a collapsed net proves nothing
    assert sum(gains) / 3 >= 0.01
