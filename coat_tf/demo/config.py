"""Settings of the simulated demo data set, and the chord progression families it draws from."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

DEMO_VERSION = 1

#: name -> (mode, beats per chord, chords as (semitones above the tonic, quality)).
FAMILIES: dict[str, tuple[str, int, tuple[tuple[int, str], ...]]] = {
    "I-V-vi-IV": ("maj", 4, ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj"))),
    "I-vi-IV-V": ("maj", 4, ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
    "vi-IV-I-V": ("maj", 4, ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj"))),
    "I-IV-V-IV": ("maj", 4, ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj"))),
    "ii-V-I-vi": ("maj", 4, ((2, "min"), (7, "maj"), (0, "maj"), (9, "min"))),
    "I-bVII-IV-IV": ("maj", 4, ((0, "maj"), (10, "maj"), (5, "maj"), (5, "maj"))),
    "12-bar blues": ("maj", 2, tuple((s, "maj") for s in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7))),
    "i-bVII-bVI-V": ("min", 4, ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj"))),
    "i-bVI-bIII-bVII": ("min", 4, ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj"))),
    "i-iv-i-v": ("min", 4, ((0, "min"), (5, "min"), (0, "min"), (7, "min"))),
}


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the simulated demo data (:mod:`coat_tf.demo.listeners` gives the model)."""

    seed: int = 0
    num_songs: int = 300
    num_users: int = 1500
    song_seconds: float = 20.0
    tempo_min: float = 96.0
    tempo_max: float = 144.0
    taste_dim: int = 8
    taste_weight: float = 2.0
    family_taste: float = 0.0
    popularity_sd: float = 1.0
    planted_chords: tuple[str, ...] = ("E:min", "A#:maj", "F:maj")
    planted_user_share: float = 0.5
    planted_strength: float = 10.0
    min_songs: int = 15
    mean_extra_songs: float = 15.0
    replay_rate: float = 0.3
    start_timestamp: int = 1388534400  # 2014-01-01
    span_days: float = 365.0

    def __post_init__(self) -> None:
        from coat_tf.chords.vocabulary import ChordVocabulary

        object.__setattr__(self, "planted_chords", tuple(self.planted_chords))
        if self.num_songs < 1 or self.num_users < 1:
            raise ValueError(
                f"num_songs and num_users must be >= 1, got {self.num_songs}, {self.num_users}"
            )
        if not 1 <= self.min_songs <= self.num_songs:
            raise ValueError(f"min_songs must be in 1..num_songs, got {self.min_songs}")
        if not 0 < self.tempo_min <= self.tempo_max:
            raise ValueError(
                f"need 0 < tempo_min <= tempo_max, got {self.tempo_min}, {self.tempo_max}"
            )
        if self.song_seconds <= 0 or self.span_days <= 0 or self.taste_dim < 1:
            raise ValueError("song_seconds, span_days and taste_dim must be positive")
        if not 0 <= self.family_taste <= 1 or not 0 <= self.planted_user_share <= 1:
            raise ValueError("family_taste and planted_user_share must be in [0, 1]")
        if min(self.popularity_sd, self.mean_extra_songs, self.replay_rate) < 0:
            raise ValueError("popularity_sd, mean_extra_songs and replay_rate must be >= 0")
        labels = ChordVocabulary.from_name("majmin").labels[1:]
        bad = [c for c in self.planted_chords if c not in labels]
        if bad or not self.planted_chords:
            raise ValueError(
                f"planted_chords must be canonical majmin labels such as 'E:min', "
                f"got {list(self.planted_chords)}"
            )

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "planted_chords": list(self.planted_chords)}

    def key(self) -> str:
        """Stable 16-hex-digit hash of the settings and the generator's version."""
        payload = json.dumps({"demo": DEMO_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
