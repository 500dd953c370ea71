"""The synthetic footage's camera feed, driven by a fake clock."""

from fer_utils.realtime.footage import camera_feed


class FakeClock:
    """Time that moves only when a call costs some or the feed sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def costing(clock: FakeClock, seconds: float):
    def process(frame):
        clock.now += seconds
        return frame
    return process


def test_a_loop_faster_than_the_camera_processes_every_frame_and_shows_its_own_answer_over_it():
    clock = FakeClock()
    shown, processed = camera_feed(list(range(8)), costing(clock, 1 / 128), fps=32, clock=clock, sleep=clock.sleep)
    assert processed == list(range(8)) and shown == list(range(8))
    assert clock.now == 8 / 32, "the feed waits for each picture and ends with the last"


def test_a_slow_loop_misses_the_pictures_that_come_while_it_runs_and_its_answers_come_late():
    clock = FakeClock()  # each call takes 2.5 pictures' time
    shown, processed = camera_feed(list(range(12)), costing(clock, 2.5 / 32), fps=32, clock=clock, sleep=clock.sleep)
    assert processed == [0, 2, 5, 7, 10]
    assert shown == [None, None, 0, 0, 2, 2, 2, 5, 5, 7, 7, 7], "each answer from the picture after it finished"
