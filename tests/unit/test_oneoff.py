"""The emulator's one-off tasks exit with the code their command names."""

from __future__ import annotations

from bluegreen_emulator.oneoff import exit_code


def test_the_emulators_one_off_task_exit_code_comes_from_its_command():
    assert exit_code(["./migrate"]) == 0
    assert exit_code(["./migrate", "--exit=3"]) == 3
    assert exit_code(["./migrate", "--exit=x"]) == 1
    assert exit_code(["./migrate", "--hang"]) is None
