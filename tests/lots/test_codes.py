import pytest

from lots import codes


def test_new_codes_validate_and_differ():
    made = {codes.new_code() for _ in range(200)}
    assert len(made) == 200
    assert all(codes.normalise(code) == code for code in made)


def test_normalise_accepts_grouping_lowercase_lookalikes_and_urls():
    code = "7KQ2M9XA" + codes.check_symbol("7KQ2M9XA")
    shown = codes.display(code)
    assert codes.normalise(shown.lower()) == code
    assert codes.normalise(" " + shown + " ") == code
    assert codes.normalise(f"https://moira.example/l/{shown}") == code
    body_with_zero = "0KQ2M9XA"
    with_zero = body_with_zero + codes.check_symbol(body_with_zero)
    assert codes.normalise(with_zero.replace("0", "O")) == with_zero


def test_every_single_symbol_error_is_caught():
    code = codes.new_code()
    for position in range(len(code)):
        for symbol in codes.ALPHABET:
            if symbol != code[position]:
                typo = code[:position] + symbol + code[position + 1:]
                with pytest.raises(codes.InvalidLabelCode):
                    codes.normalise(typo)


@pytest.mark.parametrize("raw", ["", "ABC", "7KQ2M9XA44", "7KQ2M9X!4"])
def test_malformed_codes_are_rejected_with_the_input_named(raw):
    with pytest.raises(codes.InvalidLabelCode, match="label code|check symbol"):
        codes.normalise(raw)
