"""The Cu/Cr maths, without a database."""

from decimal import Decimal as D

import pytest

from lots import calc

PROFILE = {
    "cooling_unit": calc.PartContent(mass_kg=D("40"), cu_mass_kg=D("4.0"), cr_mass_kg=D("0.5")),
    "rack": calc.PartContent(mass_kg=D("30"), cu_mass_kg=D("0.6"), cr_mass_kg=D("1.5")),
    "coin_mech": calc.PartContent(mass_kg=D("5"), cu_mass_kg=D("0.4"), cr_mass_kg=D("0")),
}


def test_product_feed_is_model_total_minus_removed_parts():
    feed = calc.product_feed(parts=PROFILE, removed={"cooling_unit": None}, unit_mass_kg=D("300"))
    assert feed == calc.Feed(cu_mass_kg=D("1.0"), cr_mass_kg=D("1.5"), mass_kg=D("260"))


def test_product_feed_prefers_the_weighed_mass_of_a_removed_part():
    feed = calc.product_feed(parts=PROFILE, removed={"rack": D("27.5")}, unit_mass_kg=D("300"))
    assert feed.mass_kg == D("272.5")
    assert feed.cr_mass_kg == D("0.5")


def test_removed_part_unknown_to_the_profile_subtracts_no_copper_and_leaves_mass_unknown():
    feed = calc.product_feed(parts=PROFILE, removed={"battery": None}, unit_mass_kg=D("300"))
    assert feed.cu_mass_kg == D("5.0")
    assert feed.mass_kg is None


def test_lot_feed_is_unknown_when_any_product_is_unknown():
    known = calc.Feed(D("1"), D("2"), D("100"))
    assert calc.lot_feed([known, None]) is None
    assert calc.lot_feed([]) is None
    assert calc.lot_feed([known, known]) == calc.Feed(D("2"), D("4"), D("200"))


RATES = calc.SortingRates(magnetic_recovery_pct=D("80"), cu_to_magnetic_pct=D("10"), cr_to_magnetic_pct=D("50"))


def test_magnetic_estimate_uses_recovery_ratio_without_a_weighed_output():
    estimate = calc.magnetic_estimate(feed=calc.Feed(D("20"), D("10"), None), processed_mass_kg=D("10000"),
                                      rates=RATES, measured_magnetic_mass_kg=None)
    assert estimate.mass_kg == D("8000")
    assert estimate.mass_source == "recovery_ratio"
    assert estimate.cu_mass_pct == D("0.025")  # 2 kg of Cu in 8000 kg
    assert estimate.cr_mass_pct == D("0.063")  # 5 kg in 8000 kg = 0.0625, rounded half up


def test_magnetic_estimate_prefers_the_weighed_magnetic_product():
    estimate = calc.magnetic_estimate(feed=calc.Feed(D("20"), D("10"), None), processed_mass_kg=D("10000"),
                                      rates=RATES, measured_magnetic_mass_kg=D("5000"))
    assert estimate.mass_source == "measured"
    assert estimate.cu_mass_pct == D("0.040")


def test_magnetic_estimate_without_rates_or_feed_is_unknown_not_zero():
    no_rates = calc.magnetic_estimate(feed=calc.Feed(D("20"), D("10"), None), processed_mass_kg=D("10000"),
                                      rates=None, measured_magnetic_mass_kg=None)
    assert no_rates.cu_mass_pct is None and no_rates.mass_kg is None
    no_feed = calc.magnetic_estimate(feed=None, processed_mass_kg=D("10000"), rates=RATES, measured_magnetic_mass_kg=None)
    assert no_feed.cu_mass_pct is None and no_feed.mass_kg == D("8000")


@pytest.mark.parametrize(
    ("pct", "grade"),
    [(D("0"), 1), (D("0.1"), 1), (D("0.101"), 2), (D("0.3"), 2), (D("0.31"), 3), (D("1"), 3), (D("1.001"), 0), (None, None)],
)
def test_steel_grade_thresholds_are_inclusive(pct, grade):
    assert calc.steel_grade(pct) == grade


@pytest.mark.parametrize(
    ("cu", "cr", "label"),
    [
        (D("0.05"), D("0.2"), "Cu1-Cr2"),
        (D("0.2"), D("1.5"), "Cu2"),
        (D("2"), D("0.05"), "Cr1"),
        (D("2"), D("2"), "off-grade"),
        (None, D("0.1"), None),
    ],
)
def test_grade_label_omits_an_off_grade_element(cu, cr, label):
    assert calc.grade_label(cu, cr) == label


def test_calibration_from_blank_run_reproduces_the_measured_grade():
    feed = calc.Feed(cu_mass_kg=D("30"), cr_mass_kg=D("20"), mass_kg=None)
    rates = calc.calibrate_from_blank(feed=feed, processed_mass_kg=D("10000"), magnetic_mass_kg=D("8500"),
                                      cu_mass_pct_measured=D("0.13"), cr_mass_pct_measured=D("0.19"))
    assert rates.magnetic_recovery_pct == D("85.0000")
    estimate = calc.magnetic_estimate(feed=feed, processed_mass_kg=D("10000"), rates=rates, measured_magnetic_mass_kg=None)
    assert estimate.cu_mass_pct == D("0.130")
    assert estimate.cr_mass_pct == D("0.190")


def test_calibration_rejects_a_blank_run_without_copper_in_the_database():
    with pytest.raises(ValueError, match="no Cu or Cr"):
        calc.calibrate_from_blank(feed=calc.Feed(D("0"), D("1"), None), processed_mass_kg=D("10"), magnetic_mass_kg=D("8"),
                                  cu_mass_pct_measured=D("0.1"), cr_mass_pct_measured=D("0.1"))


def test_shipment_grade_is_weighted_by_allocated_mass():
    assert calc.weighted_pct([(D("3000"), D("0.100")), (D("1000"), D("0.300"))]) == D("0.150")
    assert calc.weighted_pct([(D("3000"), D("0.100")), (D("1000"), None)]) is None


def test_acceptance_problems_name_each_broken_limit():
    assert calc.acceptance_problems(cu_mass_pct=D("0.25"), cr_mass_pct=D("0.05"), max_cu_mass_pct=D("0.2")) == [
        "Cu 0.25 % is above the limit of 0.2 %"]
    assert calc.acceptance_problems(cu_mass_pct=D("0.25"), cr_mass_pct=D("0.05"), grade_label="Cu1-Cr2") == [
        "Cu grade is Cu2, Cu1 or better is required"]
    assert calc.acceptance_problems(cu_mass_pct=D("0.05"), cr_mass_pct=D("2"), grade_label="Cu 2 - Cr 3") == [
        "Cr grade is off-grade, Cr3 or better is required"]
    assert calc.acceptance_problems(cu_mass_pct=None, cr_mass_pct=D("0.05"), max_cu_mass_pct=D("0.3")) == [
        "Cu is unknown, the limit is 0.3 %"]
    assert calc.acceptance_problems(cu_mass_pct=D("0.05"), cr_mass_pct=D("0.05"), grade_label="Cu1-Cr1") == []
    with pytest.raises(ValueError):
        calc.parse_grade_label("grade A")
