"""Small demo corpora built from real speech and noise found in Debian packages.

No corpus can be downloaded where the demo must run, but Debian's archive holds
studio voice prompts (Asterisk, CC-BY/CC-BY-SA) and CC0/GPL noise recordings
(Sonic Pi, Wesnoth, Minetest). This subpackage fetches them without installing
anything (:mod:`espnet_cffma.demo.sources`) and writes small corpora in the exact
raw layouts of VoiceBank-DEMAND (:mod:`espnet_cffma.demo.voicebank`) and
WHAMR! (:mod:`espnet_cffma.demo.whamr`), so the recipes' real data preparation
runs on them unchanged.

Importing this package is cheap; heavy modules load on use.
"""
