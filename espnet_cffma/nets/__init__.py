"""Network parts of BSS-CFFMA: STFT, MSCFF fusion, RHMA blocks, the separator."""
