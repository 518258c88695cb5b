"""Build the whole voice runtime from a validated config: devices, stages, pipeline, feedback.

One place wires the stages together so ``edge run``, ``edge replay``, the benchmarks and the tests all run
exactly the same pipeline; they differ only in the audio source and the pin factory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gpiozero.pins import Factory

from edge.config import Config
from edge.devices.bank import DeviceBank, make_pin_factory
from edge.events import Event
from edge.runtime.feedback import Feedback
from edge.runtime.footprint import expected, fit_warning, whisper_over_budget
from edge.runtime.pipeline import Pipeline
from edge.speech.asr.recognizers import recognizer_from_config
from edge.speech.endpoint import Endpointer
from edge.speech.noise import SpeexCleaner
from edge.speech.wake.engines import wake_from_config
from edge.understanding.handler import Understanding
from edge.understanding.vocabulary import load_vocabulary

log = logging.getLogger(__name__)

# Words after which a command cannot be over, whatever the classifier makes of the words before them.
_DANGLING_WORDS = frozenset({"to", "the", "a", "an", "at", "and", "of", "in", "my", "please"})
# A command is whole only once it says what to do: the classifier guesses an intent from any prefix ("turn the
# kitchen light" came out as light_off), so a short pause may end it only after one of these, or a level.
_ACTION_WORDS = frozenset(
    [
        "on",
        "off",
        "up",
        "down",
        "brighter",
        "dimmer",
        "dim",
        "brighten",
        "darker",
        "faster",
        "slower",
        "low",
        "medium",
        "high",
        "percent",
        "stop",
        "cancel",
        "mind",
    ]
)


def complete_command_check(understanding: Understanding, silence_ms: int) -> Callable[[str], int | None]:
    """How much silence ends a command with these words: ``silence_ms`` once they are a whole command.

    A command that names no device ("turn on the light") waits twice as long: it may go on "... in the
    bedroom", and cutting it there would switch the wrong light, far worse than a slower answer.
    """

    def complete_after(text: str) -> int | None:
        words = text.split()
        if not words or words[-1] in _DANGLING_WORDS:
            return None
        found = understanding.interpret(text)
        if found.reason is not None or found.plan is None:
            return None
        if found.slots.percent is None and not _ACTION_WORDS.intersection(words):
            return None
        return 2 * silence_ms if found.slots.how == "default" else silence_ms

    return complete_after


@dataclass
class Runtime:
    """Everything ``edge run`` needs, built and ready; ``close`` puts outputs in their safe state."""

    config: Config
    bank: DeviceBank
    pipeline: Pipeline
    understanding: Understanding
    feedback: Feedback
    asr_reason: str
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        """Hand one pipeline event to the feedback sounds and status LED."""
        self.feedback.on_event(event)

    def close(self) -> None:
        """Release engines and devices; outputs go to their safe state even if a closer fails."""
        try:
            for closer in reversed(self._closers):
                try:
                    closer()
                except Exception:
                    log.exception("runtime: failed to close %r", closer)
        finally:
            self.bank.close()


def _share_whisper(wake: object, recognizer: object) -> None:
    """Let a custom wake word's Whisper check use the command recognizer's model rather than a second copy."""
    from edge.speech.asr.whisper import WhisperRecognizer

    verifier = getattr(wake, "verifier", None)
    if (
        verifier is not None
        and isinstance(recognizer, WhisperRecognizer)
        and verifier.share_model_of(recognizer)
    ):
        log.info("wake: Whisper's check shares the command recognizer's model")


def one_blas_thread() -> None:
    """Keep numpy's BLAS on one thread for the rest of the process: the daemon's, and the benchmarks'.

    OpenBLAS starts a thread per core for any large enough matrix product (Whisper's log-mel is one), and
    those threads then spin for about 50 ms. Measured on the bench's speech, that spinning cost more CPU
    than the custom wake engine's models. The daemon's products are small; ctranslate2 and the TFLite
    interpreter have their own threads and are not affected.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def build_runtime(
    config: Config, *, mock_gpio: bool = False, sounds: bool = False, pin_factory: Factory | None = None
) -> Runtime:
    """Build devices (safe state first), then models and engines, then the pipeline.

    ``pin_factory`` injects gpiozero's backend (tests pass a ``MockFactory`` to read the pins back); by default
    it is the board's, or gpiozero's mock pins with ``mock_gpio``.
    """
    one_blas_thread()
    if pin_factory is None:
        pin_factory = make_pin_factory(config.board, mock=mock_gpio)
    bank = DeviceBank.from_config(config, pin_factory)
    closers: list[Callable[[], None]] = []
    try:
        vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
        understanding = Understanding.from_config(config, bank)
        wake = wake_from_config(config.wake, source=str(config.source))
        closers.append(wake.close)
        recognizer, asr_reason = recognizer_from_config(
            config.asr,
            vocabulary,
            wake_phrase=" ".join(config.wake.phrases),
            whisper_over_budget=whisper_over_budget(config),
        )
        closers.append(recognizer.close)
        log.info("asr: %s", asr_reason)
        too_big = fit_warning(config, expected(config))
        if too_big:
            log.warning("memory: %s", too_big)
        _share_whisper(wake, recognizer)
        feedback = Feedback.from_config(config, pin_factory, sounds=sounds)
        closers.append(feedback.close)
        pipeline = Pipeline(
            wake,
            recognizer,
            Endpointer(config.endpoint),
            understanding,
            refractory_ms=config.wake.refractory_ms,
            complete_after=complete_command_check(understanding, config.endpoint.complete_silence_ms),
            cleaner=None if config.audio.noise_suppression == "none" else SpeexCleaner(),
            clean_wake=config.audio.noise_suppression == "all",
        )
    except BaseException:
        for closer in reversed(closers):
            closer()
        bank.close()
        raise
    return Runtime(config, bank, pipeline, understanding, feedback, asr_reason, closers)
