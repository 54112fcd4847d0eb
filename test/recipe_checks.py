"""Expectations shared by the recipe tests."""

# Plausible range of every metric in a RESULTS.md table, keyed by column name.
METRIC_RANGES = {
    "PESQ-WB": (1.0, 4.65),
    "CSIG": (1.0, 5.0),
    "CBAK": (1.0, 5.0),
    "COVL": (1.0, 5.0),
    "STOI (%)": (0.0, 100.0),
    "ESTOI (%)": (-100.0, 100.0),
    "SI-SNR (dB)": (-60.0, 80.0),
    "SDR (dB)": (-60.0, 80.0),
    "DNSMOS SIG": (1.0, 5.0),
    "DNSMOS BAK": (1.0, 5.0),
    "DNSMOS OVRL": (1.0, 5.0),
    "DNSMOS P.808": (1.0, 5.0),
}
