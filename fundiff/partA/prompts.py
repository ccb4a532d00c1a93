"""Prompts of the MNIST backend: a prompt names one digit ("7", "seven", "a handwritten 7"); "" is the null prompt."""

from __future__ import annotations

import re

from fundiff.errors import FundiffError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TOKEN = re.compile(r"[a-z]+|\d+")


def parse_digit_prompt(prompt: str) -> int | None:
    """ "7", "seven", "a handwritten 7", "the digit Seven" -> 7; "" -> None (the null condition).

    Exactly one digit, written as a single numeral or an English number word; anything else is an error."""
    text = prompt.strip().lower()
    if not text:
        return None
    found = []
    for token in _TOKEN.findall(text):
        if token.isdigit():
            found.append(token)
        elif token in DIGIT_WORDS:
            found.append(str(DIGIT_WORDS.index(token)))
    if len(found) != 1 or len(found[0]) != 1:
        raise FundiffError(
            f"prompt {prompt!r} does not name exactly one digit; the mnist backend reads prompts such as "
            f"'7', 'seven' or 'a handwritten 7' ('' is the unconditional prompt)"
        )
    return int(found[0])
