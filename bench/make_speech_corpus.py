"""Make the everyday-speech clips that the false-wake benchmark hears for hours.

Run from the repository root (needs Debian's flite, espeak-ng and sox):

    python bench/make_speech_corpus.py

Writes ``bench/audio/speech_NN.wav`` (16 kHz mono 16-bit). The sentences are our own: household chatter,
radio-like talk, and near misses of the wake phrases ("hey travis", "jars"; "alex", "a lexus"), none of them
a wake phrase itself. ``bench/negative_stream.py`` loops them with noise and gain changes into an hour-long stream.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "audio"

SENTENCES = (
    "could you pass me the salt and pepper please",
    "I think the bus is late again this morning",
    "the weather tomorrow looks cloudy with some rain in the afternoon",
    "hey travis did you finish your homework",
    "we need more jars for the jam we made yesterday",
    "turn the page and read the next paragraph out loud",
    "my sister is coming over for dinner on friday",
    "the football match starts at eight tonight",
    "do you know where I left my keys",
    "harvest season is the busiest time on the farm",
    "the kettle has boiled shall I make some tea",
    "please remember to water the plants before you go",
    "the children are playing in the garden",
    "that film was much longer than I expected",
    "hey there how was your day at work",
    "the light from the window is nice in the morning",
    "let's go for a walk after lunch",
    "the fan club meets every second tuesday",
    "I can't find the remote for the television",
    "the train to the city leaves from platform four",
    "jarring noises came from the workshop all night",
    "switch seats with me so I can see the screen",
    "the news said the roads are closed near the bridge",
    "our teacher explained how a transistor works",
    "there is a spider in the bath again",
    "he is a genius with numbers but terrible with names",
    "can you help me carry these boxes upstairs",
    "the bakery on the corner sells wonderful bread",
    "okay let's start the lesson with a short quiz",
    "I'd like a cup of coffee with a little milk",
    # Near misses of "alexa", the shipped second wake phrase.
    "my friend alex said the shop is closed on sunday",
    "she drives a lexus to work every morning",
    "the election results came in very late last night",
    "alexander the great was a king of macedon",
    "a lexicon is a kind of dictionary",
    "the electric kettle is on the kitchen counter",
)

VOICES = (
    ("flite", "kal16"),
    ("flite", "awb"),
    ("flite", "rms"),
    ("flite", "slt"),
    ("espeak-ng", "en-us"),
    ("espeak-ng", "en-gb"),
)


def synthesize(engine: str, voice: str, text: str, out: Path) -> None:
    """Speak ``text`` into a 16 kHz mono 16-bit WAV."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if engine == "flite":
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
        else:
            subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(raw), text], check=True)
        subprocess.run(
            # -D: no dither, so the clips come out bit-identical on every run.
            ["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "norm", "-3"],
            check=True,
        )


def main() -> None:
    """Write one clip per sentence, cycling through the voices."""
    OUT_DIR.mkdir(exist_ok=True)
    for index, text in enumerate(SENTENCES):
        engine, voice = VOICES[index % len(VOICES)]
        synthesize(engine, voice, text, OUT_DIR / f"speech_{index:02d}.wav")
    print(f"wrote {len(SENTENCES)} clips to {OUT_DIR}")


if __name__ == "__main__":
    main()
