"""SparrowLens's vocabularies: genres, the tag tree, registration features, taste segments, title words."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


__all__ = ["AGE_GROUPS", "EXTRA_LEAVES", "GENERIC_TAGS", "GENRES", "OCCUPATIONS", "PLATFORMS", "REGIONS", "SEGMENT_NAMES",
           "TAG_TREE"]


# ---------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------

#: The 19 MovieLens genres used by SparrowLens (MovieLens spelling, alphabetical).
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)


#: Root -> parent (sub-genre / theme group) -> (MovieLens genres it implies, leaf tags).
#: The first genre of a parent is always given to its movies, later ones sometimes.
TAG_TREE: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "action & adventure": {
        "martial arts": (("Action", "Adventure"),
                         ("kung fu", "sword fight", "tournament", "revenge", "mentor")),
        "war epic": (("War", "Action", "Drama"),
                     ("world war ii", "battlefield", "soldiers", "resistance", "submarine")),
        "survival": (("Adventure", "Thriller", "Drama"),
                     ("stranded", "wilderness", "natural disaster", "shipwreck", "mountain climbing")),
        "superhero": (("Action", "Sci-Fi", "Adventure", "IMAX"),
                      ("superpowers", "comic book", "secret identity", "villain origin", "team-up")),
        "western frontier": (("Western", "Action", "Adventure"),
                             ("gunslinger", "outlaws", "cowboys", "gold rush", "showdown")),
    },
    "comedy & romance": {
        "romantic comedy": (("Comedy", "Romance"),
                            ("meet cute", "wedding", "love triangle", "first date", "opposites attract")),
        "satire": (("Comedy", "Drama"),
                   ("political satire", "mockumentary", "dark humor", "corporate satire", "media satire")),
        "family fun": (("Children", "Comedy", "Animation"),
                       ("talking animals", "pets", "christmas", "toys", "siblings")),
        "coming of age": (("Comedy", "Drama", "Romance"),
                          ("high school", "summer camp", "first love", "friendship", "growing up")),
        "musical stage": (("Musical", "Comedy", "Romance"),
                          ("broadway", "dance", "singing", "jazz", "rock band")),
    },
    "drama & real life": {
        "biopic": (("Drama", "Romance"),
                   ("based on a true story", "musician", "athlete", "inventor", "royalty")),
        "courtroom": (("Drama", "Crime", "Thriller"),
                      ("trial", "lawyer", "wrongful conviction", "jury", "legal drama")),
        "family drama": (("Drama", "Romance"),
                         ("divorce", "inheritance", "estranged father", "small town", "grief")),
        "sports drama": (("Drama", "Comedy"),
                         ("boxing", "underdog", "coach", "baseball", "comeback")),
        "documentary": (("Documentary", "IMAX"),
                        ("wildlife", "climate change", "journalism", "activism", "archival footage")),
    },
    "sci-fi & fantasy": {
        "space opera": (("Sci-Fi", "Adventure", "Action", "IMAX"),
                        ("spaceship", "alien contact", "galactic empire", "space battle", "distant planet")),
        "dystopia": (("Sci-Fi", "Thriller", "Action"),
                     ("totalitarian state", "post-apocalyptic", "rebellion", "surveillance", "overpopulation")),
        "time travel": (("Sci-Fi", "Adventure", "Comedy"),
                        ("time loop", "paradox", "alternate history", "future self", "time machine")),
        "fairy tale": (("Fantasy", "Children", "Animation", "Musical", "Adventure"),
                       ("princess", "magic spell", "dragons", "enchanted forest", "quest")),
        "cyberpunk": (("Sci-Fi", "Action", "Thriller", "Animation"),
                      ("hackers", "artificial intelligence", "virtual reality", "androids", "megacorporation")),
    },
    "crime & suspense": {
        "detective": (("Mystery", "Crime", "Thriller"),
                      ("whodunit", "private eye", "serial killer", "police investigation", "plot twist")),
        "film noir": (("Film-Noir", "Crime", "Mystery"),
                      ("femme fatale", "hardboiled", "black and white", "rainy city", "corruption")),
        "gangster": (("Crime", "Drama", "Action"),
                     ("mafia", "drug cartel", "organized crime", "hitman", "loyalty")),
        "heist": (("Crime", "Action", "Comedy", "Thriller"),
                  ("bank robbery", "double cross", "con artist", "getaway driver", "safecracking")),
        "espionage": (("Thriller", "Action", "War"),
                      ("spy", "cold war", "secret agent", "assassination", "undercover")),
    },
    "horror & the uncanny": {
        "supernatural": (("Horror", "Fantasy", "Thriller"),
                         ("ghosts", "haunted house", "demonic possession", "witchcraft", "curse")),
        "slasher": (("Horror", "Thriller"),
                    ("masked killer", "gore", "final girl", "cabin in the woods", "jump scares")),
        "creature feature": (("Horror", "Sci-Fi", "Action"),
                             ("monsters", "zombies", "vampires", "giant shark", "werewolf")),
        "psychological": (("Thriller", "Drama", "Mystery", "Horror"),
                          ("unreliable narrator", "obsession", "paranoia", "memory loss", "split personality")),
        "folk horror": (("Horror", "Mystery", "Drama"),
                        ("cult", "remote village", "pagan ritual", "isolated community", "sacrifice")),
    },
}


#: Second edition: more leaves per parent, so that two films of one sub-genre often share
#: no leaf. The first five leaves of each parent (TAG_TREE) are the "core" leaves the item
#: factors were built from; these ten per parent widen the catalogue's hierarchy. The full
#: hierarchy (tag_hierarchy.csv) is TAG_TREE's leaves plus these.
EXTRA_LEAVES: dict[str, tuple[str, ...]] = {
    "martial arts": ("wuxia", "shaolin", "samurai", "ninja", "dojo", "training montage", "bodyguard",
                     "street fighting", "karate", "fight choreography"),
    "war epic": ("d-day", "trench warfare", "prisoner of war", "field medic", "air combat", "naval battle",
                 "military occupation", "war crimes", "sniper", "pacific war"),
    "survival": ("plane crash", "desert island", "avalanche", "cannibalism", "starvation", "lost at sea",
                 "arctic expedition", "jungle", "trapped in a cave", "rescue mission"),
    "superhero": ("cape", "multiverse", "sidekick", "alien hero", "mutants", "vigilante", "supervillain",
                  "heroic sacrifice", "power armor", "reboot"),
    "western frontier": ("sheriff", "bounty hunter", "cattle drive", "saloon", "train robbery",
                         "native americans", "homesteaders", "duel at dawn", "frontier town", "spaghetti western"),
    "romantic comedy": ("fake dating", "bridesmaid", "holiday romance", "office romance", "second chances",
                        "enemies to lovers", "road trip romance", "matchmaker", "marriage proposal", "blind date"),
    "satire": ("election", "advertising", "celebrity culture", "bureaucracy", "absurdism", "parody",
               "religious satire", "social satire", "class satire", "military satire"),
    "family fun": ("dogs", "cats", "babysitter", "family vacation", "lost pet", "school play", "treasure map",
                   "puppets", "robot friend", "grandparents"),
    "coming of age": ("prom", "graduation", "first job", "bullying", "college", "teen road trip",
                      "teen rebellion", "adolescence", "skateboarding", "loss of innocence"),
    "musical stage": ("tap dance", "opera", "show tunes", "ballet", "cabaret", "talent show", "choir",
                      "hip hop", "backstage", "jukebox musical"),
    "biopic": ("painter", "politician", "civil rights", "entrepreneur", "explorer", "composer", "movie star",
               "chess prodigy", "astronaut", "poet"),
    "courtroom": ("death penalty", "defense attorney", "prosecutor", "key witness", "cross-examination",
                  "supreme court", "public defender", "closing argument", "appeal", "sentencing"),
    "family drama": ("adoption", "alcoholism", "terminal illness", "sibling rivalry", "family reunion",
                     "mother-daughter relationship", "dysfunctional family", "family farm", "immigration",
                     "caregiving"),
    "sports drama": ("basketball", "american football", "soccer", "car racing", "olympics", "wrestling",
                     "ice hockey", "team spirit", "championship", "rookie"),
    "documentary": ("ocean life", "war footage", "music documentary", "true crime", "food", "election campaign",
                    "science", "space exploration", "sports documentary", "environment"),
    "space opera": ("starfighter", "space station", "interstellar war", "wormhole", "space pirates",
                    "robot companion", "colony ship", "desert planet", "space marines", "hyperdrive"),
    "dystopia": ("mind control", "propaganda", "class divide", "police state", "climate collapse",
                 "genetic engineering", "cloning", "false utopia", "resource scarcity", "forced conformity"),
    "time travel": ("changing the past", "butterfly effect", "grandfather paradox", "time portal", "future war",
                    "dinosaurs", "causal loop", "time police", "aging backwards", "parallel timeline"),
    "fairy tale": ("wicked stepmother", "talking objects", "true love's kiss", "fairy godmother", "giants",
                   "evil queen", "mermaid", "frog prince", "three wishes", "trolls"),
    "cyberpunk": ("cyborgs", "neon city", "body implants", "netrunner", "memory implants",
                  "digital consciousness", "robot uprising", "drones", "data heist", "transhumanism"),
    "detective": ("cold case", "locked room mystery", "forensics", "missing person", "amateur sleuth",
                  "detective duo", "red herring", "small town murder", "interrogation", "hidden clues"),
    "film noir": ("voice-over narration", "crooked cop", "nightclub singer", "blackmail", "fall guy",
                  "insurance fraud", "low-key lighting", "cynical hero", "stolen diamonds", "doomed romance"),
    "gangster": ("crime family", "bootlegging", "prohibition", "money laundering", "turf war", "rise and fall",
                 "street gang", "informant", "yakuza", "triads"),
    "heist": ("casino", "inside man", "art theft", "crew assembly", "vault", "diamond heist", "heist gone wrong",
              "train heist", "museum", "disguise"),
    "espionage": ("double agent", "mi6", "kgb", "defector", "spy gadgets", "code breaking", "sleeper cell",
                  "nuclear threat", "safe house", "mole hunt"),
    "supernatural": ("poltergeist", "exorcism", "seance", "spirits", "afterlife", "psychic", "ouija board",
                     "cursed object", "ghost child", "reincarnation"),
    "slasher": ("halloween night", "killer on the loose", "body count", "teen victims", "hockey mask", "chainsaw",
                "prank gone wrong", "escaped maniac", "urban legend", "sequel bait"),
    "creature feature": ("giant monster", "mutant insects", "alien creature", "dinosaur attack", "sea monster",
                         "killer animals", "swamp creature", "infestation", "mad scientist", "kaiju"),
    "psychological": ("gaslighting", "hallucinations", "insomnia", "stalker", "mental illness", "doppelganger",
                      "isolation", "trauma", "dream logic", "manipulation"),
    "folk horror": ("harvest festival", "witch trial", "ancient ritual", "wicker effigy", "local legend",
                    "forest spirits", "folklore", "commune", "midsummer", "standing stones"),
}


#: Generic descriptor tags, outside the hierarchy: (tag, anchor). The anchor is the
#: direction of latent space the tag leans toward (a genre's vector, "vintage" for old
#: films, None for a direction of its own); listed from most to least common, and the
#: catalogue gives the tag of rank r to about GENERIC_TOP_SHARE * r**-GENERIC_ZIPF_EXPONENT
#: of the films, as MovieLens users apply "atmospheric" far more than "witch trial".
GENERIC_TAGS: tuple[tuple[str, str | None], ...] = (
    ("atmospheric", None), ("funny", "Comedy"), ("classic", "vintage"), ("based on a book", None),
    ("twist ending", "Thriller"), ("visually appealing", "IMAX"), ("thought-provoking", "Drama"),
    ("dark", "Crime"), ("great soundtrack", "Musical"), ("quirky", "Comedy"), ("violent", "Action"),
    ("feel-good", "Children"), ("slow", "Drama"), ("cult film", "vintage"), ("predictable", None),
    ("suspenseful", "Thriller"), ("sad", "Drama"), ("romantic", "Romance"), ("scary", "Horror"),
    ("beautiful cinematography", None), ("stylized", None), ("nonlinear", "Mystery"), ("overrated", None),
    ("witty", "Comedy"), ("philosophical", "Sci-Fi"), ("epic", "Adventure"), ("surreal", "Fantasy"),
    ("heartwarming", "Children"), ("clever", None), ("disturbing", "Horror"), ("intense", "Thriller"),
    ("franchise", "Action"), ("remake", None), ("ensemble cast", None), ("cheesy", "Horror"),
    ("oscar winner", "vintage"), ("bleak", "War"), ("good dialogue", "Drama"), ("musical numbers", "Musical"),
    ("black and white cinematography", "Film-Noir"),
)


#: Age groups as in MovieLens-1M's users.dat.
AGE_GROUPS: tuple[str, ...] = ("Under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")


_AGE_WEIGHTS = (0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06)


GENDERS: tuple[str, ...] = ("F", "M")


_GENDER_WEIGHTS = (0.29, 0.71)


#: The 21 occupations of MovieLens-100k's u.occupation, alphabetical.
OCCUPATIONS: tuple[str, ...] = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
)


# Relative frequencies in the spirit of ML-100k (students most common, doctors rare).
_OCCUPATION_WEIGHTS = (79, 28, 7, 95, 67, 18, 32, 16, 7, 12, 51, 26, 9, 105, 66, 14, 12, 31, 196, 27, 45)


REGIONS: tuple[str, ...] = ("central", "east", "north", "overseas", "south", "west")


_REGION_WEIGHTS = (0.14, 0.24, 0.12, 0.10, 0.18, 0.22)


PLATFORMS: tuple[str, ...] = ("android", "ios", "tv", "web")


#: Taste segments: name -> (liked parents, liked genres, likes old films).
_SEGMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "action fans": (("martial arts", "superhero", "war epic", "espionage"), ("Action",), False),
    "sci-fi geeks": (("space opera", "cyberpunk", "time travel", "dystopia"), ("Sci-Fi",), False),
    "family viewers": (("family fun", "fairy tale"), ("Children", "Animation"), False),
    "romance lovers": (("romantic comedy", "musical stage", "family drama", "coming of age"), ("Romance",), False),
    "comedy crowd": (("satire", "romantic comedy", "family fun", "heist"), ("Comedy",), False),
    "horror buffs": (("slasher", "supernatural", "creature feature", "folk horror"), ("Horror",), False),
    "mystery solvers": (("detective", "heist", "gangster", "psychological"), ("Crime", "Mystery"), False),
    "classic cinephiles": (("film noir", "western frontier", "musical stage"), ("Film-Noir", "Western"), True),
    "documentary & drama": (("documentary", "biopic", "courtroom", "sports drama"), ("Documentary", "Drama"), False),
    "teen mainstream": (("coming of age", "superhero", "slasher", "romantic comedy"), ("Comedy",), False),
    "fantasy & anime": (("fairy tale", "cyberpunk", "supernatural"), ("Fantasy", "Animation"), False),
    "thrill seekers": (("psychological", "survival", "espionage", "dystopia"), ("Thriller",), False),
}


SEGMENT_NAMES: tuple[str, ...] = tuple(_SEGMENTS)


# Designed effects of registration features on segment logits (feature value -> effect);
# small random effects are added on top so that no feature is perfectly clean.
_SEGMENT_EFFECTS: dict[str, dict[str, float]] = {
    "action fans": {"M": 1.0, "18-24": 0.5, "25-34": 0.6, "technician": 0.8, "engineer": 0.5, "android": 0.4},
    "sci-fi geeks": {"M": 0.8, "programmer": 1.8, "engineer": 1.3, "scientist": 1.3, "student": 0.5},
    "family viewers": {"35-44": 1.5, "45-49": 0.9, "homemaker": 2.2, "tv": 1.6, "F": 0.5},
    "romance lovers": {"F": 1.9, "25-34": 0.3, "marketing": 0.6, "ios": 0.5},
    "comedy crowd": {"18-24": 0.7, "salesman": 0.8, "entertainment": 0.8, "android": 0.6},
    "horror buffs": {"Under 18": 1.0, "18-24": 1.1, "artist": 0.7, "none": 0.8},
    "mystery solvers": {"45-49": 1.0, "50-55": 1.0, "lawyer": 2.2, "librarian": 1.4, "retired": 0.6},
    "classic cinephiles": {"56+": 2.3, "50-55": 1.4, "retired": 1.6, "writer": 1.0, "educator": 0.6, "web": 0.4},
    "documentary & drama": {"educator": 1.4, "scientist": 0.9, "healthcare": 1.4, "doctor": 1.6, "writer": 1.0},
    "teen mainstream": {"Under 18": 2.6, "18-24": 1.0, "student": 1.0, "ios": 0.8, "android": 0.5},
    "fantasy & anime": {"student": 1.0, "artist": 1.4, "programmer": 0.6, "Under 18": 0.8},
    "thrill seekers": {"25-34": 0.6, "executive": 1.2, "marketing": 0.7, "administrator": 0.6},
}


_ADJECTIVES = (
    "Silent", "Broken", "Hidden", "Last", "Crimson", "Golden", "Midnight", "Wild", "Lonely",
    "Burning", "Frozen", "Secret", "Distant", "Forgotten", "Dark", "Bright", "Little", "Final",
    "Endless", "Savage", "Quiet", "Electric", "Velvet", "Iron", "Paper", "Glass", "Hollow",
    "Lucky", "Restless", "Sweet", "Bitter", "Sleeping", "Falling", "Rising", "Lost", "Northern",
    "Southern", "Scarlet", "Silver", "Stolen", "Painted", "Wandering", "Hungry", "Reckless",
    "Gentle", "Brave", "Shattered", "Invisible", "Eternal", "Faded",
)


_NOUNS = (
    "Harbor", "River", "Kingdom", "Letter", "Garden", "Road", "Mirror", "Shadow", "Storm",
    "Island", "City", "Heart", "Promise", "Frontier", "Horizon", "Witness", "Stranger", "Summer",
    "Winter", "Machine", "Empire", "Circus", "Orchard", "Lighthouse", "Station", "Dragon", "Crown",
    "Game", "Bridge", "Signal", "Planet", "Voyage", "Song", "Dance", "House", "Forest", "Knife",
    "Ghost", "Angel", "Hotel", "Train", "Desert", "Valley", "Engine", "Moon", "Tide", "Window",
    "Lantern", "Compass", "Canyon", "Carnival", "Paradise", "Symphony", "Castle", "Wolf",
)


_PLACES = (
    "Paris", "Tokyo", "Brooklyn", "Havana", "Cairo", "Vienna", "Alaska", "Texas", "Rome", "Lisbon",
    "Berlin", "Bombay", "Chicago", "Shanghai", "Dublin", "Memphis", "Marseille", "Nevada", "Oslo",
    "Kyoto",
)


_NAMES = (
    "Annie", "Max", "Lola", "Frank", "Mei", "Oscar", "Rosa", "Jack", "Nora", "Leo", "Ingrid",
    "Sam", "Vera", "Hugo", "Ruby", "Tom",
)


def _vocabulary() -> dict[str, Any]:
    """Flatten TAG_TREE (+ EXTRA_LEAVES) into name tuples, index maps and the tag_hierarchy frame.

    ``tags``/``tag_parent`` are the 150 core leaves the item factors are built from (first
    edition, unchanged); ``leaves``/``leaf_parent`` the wide hierarchy: core then extra leaves.
    """
    roots, parents, tags, tag_parent, parent_root, parent_genres = [], [], [], [], [], []
    for r, (root, subtree) in enumerate(TAG_TREE.items()):
        roots.append(root)
        for parent, (genres, leaves) in subtree.items():
            parent_root.append(r)
            parent_genres.append(tuple(GENRES.index(g) for g in genres))
            for leaf in leaves:
                tags.append(leaf)
                tag_parent.append(len(parents))
            parents.append(parent)
    if set(EXTRA_LEAVES) != set(parents):
        raise AssertionError("EXTRA_LEAVES must widen every parent of TAG_TREE")
    leaves, leaf_parent = list(tags), list(tag_parent)
    for q, parent in enumerate(parents):
        leaves += EXTRA_LEAVES[parent]
        leaf_parent += [q] * len(EXTRA_LEAVES[parent])
    generics = [g for g, _ in GENERIC_TAGS]
    names = leaves + parents + roots + generics
    if len(set(names)) != len(names):
        raise AssertionError("every leaf, parent, root and generic tag name must be used once")
    frame = pd.DataFrame({
        "tag": leaves,
        "parent": [parents[i] for i in leaf_parent],
        "root": [roots[parent_root[i]] for i in leaf_parent],
    }).sort_values(["root", "parent", "tag"], kind="stable").reset_index(drop=True)
    return {"roots": tuple(roots), "parents": tuple(parents), "tags": tuple(tags),
            "tag_parent": np.array(tag_parent, dtype=np.int64), "parent_root": np.array(parent_root, dtype=np.int64),
            "leaves": tuple(leaves), "leaf_parent": np.array(leaf_parent, dtype=np.int64),
            "parent_genres": parent_genres, "frame": frame}
