"""Optimisers that give the SSL upstream its own, smaller learning rate.

The paper's recipe (from BSSE-SE) trains with Adam at 1e-4 and fine-tunes the
SSL upstream at 1e-5. ESPnet builds optimisers from ``model.parameters()``
alone, so :class:`~espnet_cffma.ssl.front.SSLFeatureExtractor` flags its
upstream's parameters and these classes split them into a second parameter
group. Registered in ESPnet as ``optim: adam_ssl`` / ``adamw_ssl``::

    optim: adam_ssl
    optim_conf:
        lr: 1.0e-4
        ssl_lr: 1.0e-5
"""

from collections.abc import Iterable

import torch

SSL_PARAMETER_FLAG = "_cffma_ssl_upstream"


def flag_ssl_parameters(module: torch.nn.Module) -> None:
    """Marks every parameter of ``module`` as belonging to the SSL upstream."""
    for param in module.parameters():
        setattr(param, SSL_PARAMETER_FLAG, True)


def split_ssl_parameters(params: Iterable, ssl_lr: float) -> list[dict]:
    """Two parameter groups: the rest (default lr), the SSL upstream (``ssl_lr``)."""
    params = list(params)
    if params and isinstance(params[0], dict):
        raise ValueError("adam_ssl/adamw_ssl take parameters, not parameter groups")
    ssl = [p for p in params if getattr(p, SSL_PARAMETER_FLAG, False)]
    rest = [p for p in params if not getattr(p, SSL_PARAMETER_FLAG, False)]
    groups = [{"params": rest, "name": "model"}]
    if ssl:
        groups.append({"params": ssl, "lr": ssl_lr, "name": "ssl_upstream"})
    return groups


class SSLAwareAdam(torch.optim.Adam):
    """Adam with a separate learning rate ``ssl_lr`` for the SSL upstream."""

    def __init__(self, params, lr: float = 1e-4, ssl_lr: float = 1e-5, **kwargs):
        super().__init__(split_ssl_parameters(params, ssl_lr), lr=lr, **kwargs)


class SSLAwareAdamW(torch.optim.AdamW):
    """AdamW with a separate learning rate ``ssl_lr`` for the SSL upstream."""

    def __init__(self, params, lr: float = 1e-4, ssl_lr: float = 1e-5, **kwargs):
        super().__init__(split_ssl_parameters(params, ssl_lr), lr=lr, **kwargs)
