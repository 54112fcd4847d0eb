"""MIA-SE's denoiser: DCUnet10 with an optional TSTM bottleneck (``dcunet_tstm``)."""
