"""What edge tells Home Assistant it is (the answer to ``describe``): a satellite, wake words, speech-to-text."""

from __future__ import annotations

from dataclasses import dataclass

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, Satellite, WakeModel, WakeProgram

from edge import __version__
from edge.integrations.wyoming.settings import WyomingConfig

# edge has no public home page yet: Home Assistant shows the name and leaves an empty link out.
ATTRIBUTION = Attribution(name="edge", url="")


@dataclass(frozen=True)
class WakeWord:
    """One wake word as Home Assistant names it (``hey_jarvis``) and as people say it."""

    name: str
    phrase: str


def wake_words_of(detector: object) -> list[WakeWord]:
    """The wake words a detector listens for: each of micro's phrases, or the one of any other engine."""
    phrases = getattr(detector, "phrases", None)
    if isinstance(phrases, list | tuple) and phrases:
        return [WakeWord(str(p).replace(" ", "_"), str(p)) for p in phrases]
    name = str(getattr(detector, "name", "wake"))
    return [WakeWord(name, str(getattr(detector, "phrase", name.replace("_", " "))))]


def build_info(config: WyomingConfig, wake_words: list[WakeWord], *, wake: bool, asr: bool) -> Info:
    """The info event's content for what this server runs."""
    info = Info()
    names = [word.name for word in wake_words]
    if config.satellite:
        info.satellite = Satellite(
            name=config.name,
            attribution=ATTRIBUTION,
            installed=True,
            description="edge: offline voice control; what it cannot do goes to Home Assistant",
            version=__version__,
            area=config.area,
            has_vad=True,
            active_wake_words=names,
            max_active_wake_words=len(names),
            supports_trigger=False,
        )
    if wake:
        models = [
            WakeModel(
                name=word.name,
                attribution=ATTRIBUTION,
                installed=True,
                description=f"edge wake word: {word.phrase}",
                version=__version__,
                languages=["en"],
                phrase=word.phrase,
            )
            for word in wake_words
        ]
        info.wake.append(
            WakeProgram(
                name="edge-wake",
                attribution=ATTRIBUTION,
                installed=True,
                description="edge's wake words (including one trained with `edge wake train`)",
                version=__version__,
                models=models,
            )
        )
    if asr:
        model = AsrModel(
            name="whisper-tiny-en",
            attribution=ATTRIBUTION,
            installed=True,
            description="Whisper tiny.en (CTranslate2, int8) on the device",
            version=__version__,
            languages=["en"],
        )
        info.asr.append(
            AsrProgram(
                name="edge-whisper",
                attribution=ATTRIBUTION,
                installed=True,
                description="edge's offline speech-to-text",
                version=__version__,
                models=[model],
            )
        )
    return info
