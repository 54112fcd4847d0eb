"""Python helpers behind the shell stages of the recipes in ``egs2/``.

Each module has a command-line interface called by ``egs2/TEMPLATE/cffma.sh``:
job running (:mod:`.jobs`), audio formatting (:mod:`.format_audio`), the SSL
upstream check (:mod:`.ssl_check`), results tables (:mod:`.results`) and
spectrogram pictures (:mod:`.spectrogram`).
"""
