"""CNUNet-TB-TS: causal two-branch complex nested U-Net, SSL distilled away."""
