from datetime import date

from plans.scheduling import Step, add_business_days, schedule


def test_add_business_days_skips_weekends():
    friday = date(2026, 11, 27)

    assert add_business_days(friday, 1) == date(2026, 11, 30)
    assert add_business_days(date(2026, 11, 30), -1) == friday
    assert add_business_days(friday, 0) == friday


def test_signature_step_lands_on_target_and_earlier_steps_end_before_successor_starts():
    steps = [Step(3, "close"), Step(2, "close"), Step(1, "close", True)]
    target = date(2026, 12, 18)  # a Friday

    due = schedule(steps, target)

    # Signature on Fri 18th; the 2-day step ends Thu 17th (starts Wed 16th); the 3-day step
    # ends Tue 15th.
    assert due == [date(2026, 12, 15), date(2026, 12, 17), date(2026, 12, 18)]


def test_weekend_target_moves_signature_to_friday_and_chain_skips_weekends():
    steps = [Step(5, "close"), Step(1, "close", True)]

    due = schedule(steps, date(2026, 12, 20))  # a Sunday

    assert due[1] == date(2026, 12, 18)
    # The 5-day step must end on Thursday 17th.
    assert due[0] == date(2026, 12, 17)
    assert all(d.weekday() < 5 for d in due)


def test_backward_chain_crosses_weekends():
    steps = [Step(2, "close"), Step(3, "close", True)]

    due = schedule(steps, date(2026, 12, 16))  # Wednesday; 3 days: Mon 14 – Wed 16

    assert due == [date(2026, 12, 11), date(2026, 12, 16)]  # ends Friday 11th


def test_post_signature_steps_are_scheduled_forwards():
    steps = [Step(1, "close", True), Step(2, "post"), Step(3, "post")]

    due = schedule(steps, date(2026, 12, 18))  # Friday

    assert due == [date(2026, 12, 18), date(2026, 12, 22), date(2026, 12, 25)]


def test_without_marked_signature_the_last_close_step_is_the_anchor():
    steps = [Step(1, "close"), Step(1, "close"), Step(1, "post")]

    due = schedule(steps, date(2026, 12, 16))

    assert due == [date(2026, 12, 15), date(2026, 12, 16), date(2026, 12, 17)]
