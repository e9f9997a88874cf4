"""Exact unit conversions. Literature values live in :mod:`finops_lib.factors`."""

S_PER_MIN = 60
S_PER_H = 3_600
MIN_PER_H = 60
H_PER_DAY = 24
H_PER_YEAR = 8_760
W_PER_KW = 1_000
WH_PER_KWH = 1_000
G_PER_KG = 1_000
KG_PER_T = 1_000
PERCENT = 100.0
#: 1 lb = 0.45359237 kg exactly (International yard and pound agreement, 1959).
KG_PER_LB = 0.45359237
#: WattTime reports lb/MWh; 1 lb/MWh = 0.45359237 g/kWh.
G_PER_KWH_PER_LB_PER_MWH = KG_PER_LB * G_PER_KG / WH_PER_KWH * 1.0
