"""voicecoach.vad: Silero VAD v6 scoring, endpointing and regions on real espeak speech."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.audio import active_span, espeak, silence, white_noise

from voicecoach.audio import read_channels
from voicecoach.vad import (
    FRAME,
    Endpointer,
    SilenceStarted,
    SileroVad,
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
    VadOptions,
    speech_regions,
)

FIRST = "Thank you for coming in today. How has your week been so far?"
SECOND = "It sounds like you are feeling tired and alone."


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    d = tmp_path_factory.mktemp("vad")
    a = read_channels(espeak(d / "a.wav", FIRST))[0]
    b = read_channels(espeak(d / "b.wav", SECOND))[0]
    return a, b


@pytest.fixture(scope="module")
def dialogue(clips: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """1 s silence, speech, 3 s silence, speech, 2 s silence; and the true speech spans."""
    a, b = clips
    parts = [silence(1.0), a, silence(3.0), b, silence(2.0)]
    x = np.concatenate(parts)
    sa, ea = active_span(a)
    sb, eb = active_span(b)
    t_b = (len(parts[0]) + len(a) + len(parts[2])) / 16000
    return x, [(1.0 + sa, 1.0 + ea), (t_b + sb, t_b + eb)]


def _blocks(x: np.ndarray, size: int) -> list[np.ndarray]:
    return [x[i : i + size] for i in range(0, len(x), size)]


def test_streaming_equals_whole_array(dialogue: tuple[np.ndarray, list]) -> None:
    x, _ = dialogue
    x = np.pad(x, (0, -len(x) % FRAME))
    vad = SileroVad()
    whole = vad.probabilities(x)
    vad.reset()
    streamed = np.array([vad.frame_probability(f) for f in x.reshape(-1, FRAME)])
    vad.reset()
    batched = vad.probabilities(x, batch=7)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
    np.testing.assert_allclose(batched, whole, atol=1e-6)
    assert whole.max() > 0.9 and np.median(whole[: 16000 // FRAME]) < 0.1


def test_regions_do_not_depend_on_block_size(dialogue: tuple[np.ndarray, list]) -> None:
    x, _ = dialogue
    one = np.array(list(speech_regions([x])))
    assert len(one) >= 2
    for size in (777, 16000 * 30):
        np.testing.assert_allclose(np.array(list(speech_regions(_blocks(x, size)))), one)


def test_regions_match_the_known_boundaries(dialogue: tuple[np.ndarray, list]) -> None:
    x, truth = dialogue
    exact = VadOptions(speech_pad_ms=0, min_silence_ms=1000)
    regions = list(speech_regions(_blocks(x, 4000), exact))
    assert len(regions) == 2
    for (start, end), (t0, t1) in zip(regions, truth, strict=True):
        assert abs(start - t0) <= 0.15
        assert abs(end - t1) <= 0.15


def test_padded_regions_cover_the_speech(dialogue: tuple[np.ndarray, list]) -> None:
    x, truth = dialogue
    regions = list(speech_regions(_blocks(x, 4000)))
    assert regions[0][0] <= truth[0][0] and regions[-1][1] >= truth[-1][1] - 0.05
    assert all(0 <= s < e <= len(x) / 16000 for s, e in regions)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(regions, regions[1:], strict=False))
    # no region inside the 3 s pause
    assert not any(truth[0][1] + 0.5 < s < truth[1][0] - 0.5 for s, _ in regions)


@pytest.mark.parametrize("level", [0.0, 0.005, 0.05, 0.3])
def test_silence_and_white_noise_give_no_regions(level: float) -> None:
    x = white_noise(10.0, level) if level else silence(10.0)
    assert list(speech_regions(_blocks(x, 16000))) == []


def test_long_speech_is_split(dialogue: tuple[np.ndarray, list]) -> None:
    x, _ = dialogue
    opts = VadOptions(max_speech_s=2.0, min_silence_ms=1500, speech_pad_ms=0)
    regions = list(speech_regions([x], opts))
    assert len(regions) >= 3
    assert all(e - s <= 2.0 + 0.05 for s, e in regions)


def test_endpointer_events_for_a_real_utterance(clips: tuple[np.ndarray, np.ndarray]) -> None:
    a, _ = clips
    x = np.concatenate([silence(0.5), a, silence(1.5)])
    ep = Endpointer()
    events = []
    emitted_at = []
    for i, block in enumerate(_blocks(x, 320)):  # 20 ms blocks, like a microphone
        new = ep.feed(block, i * 320 / 16000)
        events += new
        emitted_at += [ep.now_s] * len(new)
    events += ep.flush()
    kinds = [type(e) for e in events]
    assert kinds[0] is SpeechStarted and kinds[-1] is SpeechEnded
    assert SilenceStarted in kinds
    # every SilenceStarted is followed by SpeechResumed or SpeechEnded; starts and ends pair up
    state = "quiet"
    for e in events:
        if isinstance(e, SpeechStarted):
            assert state == "quiet"
            state = "speaking"
        elif isinstance(e, SilenceStarted):
            assert state == "speaking"
            state = "pausing"
        elif isinstance(e, SpeechResumed):
            assert state == "pausing"
            state = "speaking"
        else:
            assert state in ("speaking", "pausing")
            state = "quiet"
    assert state == "quiet"
    first, last = events[0], events[-1]
    assert isinstance(first, SpeechStarted) and isinstance(last, SpeechEnded)
    t0, t1 = active_span(a)
    assert abs(first.t_s - (0.5 + t0)) <= 0.15
    assert abs(last.end_s - (0.5 + t1)) <= 0.15
    # the last SilenceStarted comes early (speculation), the SpeechEnded after min_silence
    i_end = len(events) - 1
    i_sil = max(i for i, k in enumerate(kinds) if k is SilenceStarted)
    assert emitted_at[i_sil] - last.end_s < 0.25
    assert emitted_at[i_end] - last.end_s >= 0.4


def test_endpointer_reanchors_on_a_gap(clips: tuple[np.ndarray, np.ndarray]) -> None:
    a, _ = clips
    ep = Endpointer()
    ev1 = ep.feed(np.concatenate([silence(0.3), a[: len(a) // 2]]), 10.0)
    ev2 = ep.feed(silence(1.0), 100.0)  # not contiguous: closes the open speech
    assert isinstance(ev1[0], SpeechStarted) and ev1[0].t_s > 10.0
    assert isinstance(ev2[0], SpeechEnded) and ev2[0].end_s <= 10.3 + len(a) / 32000 + 0.05
    assert ep.now_s >= 100.0
