"""The sets of tiers the contracts name as their senders and targets (decision 0025).

A school's registry authority (学籍主管部门) is its county, or its city or province for a
school the city or province runs, so what an authority sends may come from any of these tiers;
the handler then checks that the sender is *the* authority of the school concerned.
"""

from __future__ import annotations

from shared.federation.config import Tier

NATIONAL_TIER = frozenset({Tier.NATIONAL})
PROVINCE_TIER = frozenset({Tier.PROVINCE})
SCHOOL_TIER = frozenset({Tier.SCHOOL})
COUNTY_TIER = frozenset({Tier.COUNTY})
CITY_TIER = frozenset({Tier.CITY})
# a school's registry authority: its county, or the city or province running it (0034)
AUTHORITY_TIERS = frozenset({Tier.COUNTY, Tier.CITY, Tier.PROVINCE})
# who decides a submission: the authority (rejections) or national (the registry's decision)
DECIDER_TIERS = frozenset({Tier.NATIONAL, Tier.COUNTY, Tier.CITY, Tier.PROVINCE})
# what a decision is told to: the school and the province keeping the archive
SCHOOL_AND_PROVINCE = frozenset({Tier.SCHOOL, Tier.PROVINCE})
# the parties of a transfer step (and their superiors)
PARTY_TIERS = frozenset({Tier.SCHOOL, Tier.COUNTY, Tier.CITY, Tier.PROVINCE})
# the levels above another: where an instance's audit anchors go (national's to the provinces)
# (a city-run school's go to its city, kept by the province instance hosting it)
ABOVE_TIERS = frozenset({Tier.NATIONAL, Tier.PROVINCE, Tier.CITY, Tier.COUNTY})
