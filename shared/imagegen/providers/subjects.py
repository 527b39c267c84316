"""What the offline renderer draws: the subject of a category or prompt, its companions and setting.

This module decides *what* (glyph names from Material Design Icons, and the words each was chosen
for); imagegen.providers.offline decides *how* it looks. The choice is recorded in the metadata as
`offline_subject`, so a reader and a test can see why a glyph was drawn.

A phrase grammar, and beside it a sentence model. spaCy 3.8 with its dependencies (numpy, thinc, blis)
installs as ~306 MB before any English model, which is not on PyPI (a GitHub download); the worker's
package is limited to 250 MB, and importing spaCy took 2.6-4 s here, on the first image's latency. The
inputs are short noun phrases ("craft beer", "kayak rentals") and one-clause scene prompts ("a rocket
launching at dawn"), where a head-final noun phrase, lists of function words, and the icon set's own
names as the noun lexicon do the job: the lexicon is built once per process (~0.3 s), then a choice
takes ~1.5 ms. Measured figures: README, "offline provider".

The grammar knows only the icon set's words. Where it names its glyph less surely (a catalogue's or an
alias's sense, a guess at a part, an inference, nothing at all), the sentence model (all-MiniLM-L6-v2 run in
numpy: providers/sentence_model.py) compares the user's whole text with every icon's name and may overrule
it by a margin (_by_model): "toy blocks" is no cancel sign ("block" is its alias), "blood donation" no coin
in a hand, "a ship's wheel on the deck" no tire. The grammar still gives a blog scene its setting and
companions. On inputs neither had seen, each split scored once (README), the model raised icons from the
grammar's 0.637 to 0.718 (held_out_6), 0.689 to 0.773 (held_out_7), 0.557 to 0.620 (held_out_8) and 0.510 to
0.600 (held_out_9), and blog subjects from 0.541 to 0.639 (held_out_8) and 0.760 to 0.820 (held_out_9).
`offline_subject.chosen_by` says which one chose.

The grammar, in order:
- words split at prepositions, conjunctions and verbs into noun phrases; the first phrase is the subject,
  a locative prepositional phrase ("on a wooden table", "at dawn") the setting, the rest companions;
  a first phrase that is a person named by no trade ("children", "a woman") yields to what they act on
  ("building a sandcastle"), else to what they do ("meditating");
- in a noun phrase the head is the last noun (adjectives skipped unless they start a name: "hot dog"),
  but multi-word names come first ("3d printer", "garden furniture", "hot air balloon");
- a light head (a service, a shop, an activity, a route: "rentals", "restaurants", "grooming",
  "changes", "crossings"; a place, container or vehicle of a trade: "bars", "tanks", "trucks"; a
  person who works with a thing: "drivers", "walkers") hands the subject to its modifier ("kayak",
  "karaoke", "taco") and becomes a companion; "a cup of coffee" draws coffee;
- a one-word head also yields to a modifier when its own glyph is a guess, or only an alias or a
  catalogue's (another sense: "juice" is a soda bottle) or a trade's, and the modifier is a specific
  icon name ("watermelon juice", "chili sauces", "drone pilots"); specific: its icons are of at most
  two families (_outranks); a modifier's multi-word name always does ("ping pong tables");
- an agent noun finds its trade's glyph by its stem ("violinist" -> violin, "roofer" -> roof,
  "librarian" -> library, "sailor" -> sail) or by the curated trades (data/subject_hints.json:
  "baker" -> baguette);
- a head or companion known only by alias or guess takes the sense nearest its neighbour's kind (MDI
  tags: a "bottle" beside a beer is bottle-soda, not baby-bottle);
- a word finds its glyph by curated hint, kin or trade (data/subject_hints.json: hints for measured
  misses, kin for common words the icon set lacks: pony -> horse), an icon's name, a catalogue
  category's name or alias, an icon's alias, an icon's name less its kind ("grape" -> fruit-grapes),
  an icon whose name holds the word, then the parts of a closed compound when both parts are words
  ("surfboard" -> surf -> surfing; "carpenter" is not car + penter);
- stems stop at known words: a word an icon's name ends with is never stemmed ("containers" are no
  "contain"), a verb's stem counts only by an icon's own name ("driving" is no tape-drive, "mining"
  finds the miner before the landmine), and a word only an icon's alias holds is that icon, a guess
  ("playground" -> playground-slide, not play + ground);
- a category's alias (a member of a broader class: "heels" of Shoes, "chess" of Board Games) yields
  to an icon whose name holds that specific word (shoe-heel, chess-king); the catalogue's own names
  keep their icon;
- a symbol's name or alias of two words or more still names a thing ("file cabinet"), and a closed
  compound joins by alias too ("camper van" -> campervan, rv-truck);
- group words ("a family of ducks", "a team of horses") hand the subject to what follows "of";
- exact names first: a word with an adjective's suffix that is an icon's name is a noun ("jellyfish");
  a subject only guessed at ("skydiver": sky + diver) or a person known by a broader class ("chemist")
  yields to a thing named exactly as an object or after "with", "into", "under" (never a place); a verb
  and its object that make one closed compound name it ("shaking hands" -> handshake); a catalogue's
  two-word name yields to its head when that is a specific icon ("lawn mowers" -> mower), and a
  category's last activity to its tool ("lawn mowing" -> mower); a compound whose head is an agent is
  its first part ("bricklayer" is no layers).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set, sentence_model


@dataclass(frozen=True)
class Pick:
    """One glyph and the words of the input it stands for."""

    glyph: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Subject:
    """The subject first, then companions (modifiers, custom elements), then the setting (blog scenes:
    table, sea, office, sky), if any. Glyph names are icon_set names (without `-outline`)."""

    subject: Pick
    companions: tuple[Pick, ...] = ()
    setting: Pick | None = None
    alternatives: tuple[str, ...] = field(default=(), compare=False)  # next-best subject glyphs
    chooser: str = "grammar"  # what chose the subject: "grammar" or "model" (the sentence model)

    def as_metadata(self) -> dict[str, Any]:
        """The `offline_subject` metadata field."""
        return {
            "subject": {"glyph": self.subject.glyph, "words": list(self.subject.words)},
            "companions": [{"glyph": p.glyph, "words": list(p.words)} for p in self.companions],
            "setting": {"glyph": self.setting.glyph, "words": list(self.setting.words)}
            if self.setting
            else None,
            "chosen_by": self.chooser,
        }


MAX_COMPANIONS = 4


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DETERMINERS = _word_set(
    """
    a an the this that these those some any our my your his her its their every each one two three
    four five several many few lots
    """
)
# Where or when something is: its object is the scene's setting.
_LOCATIVE = _word_set(
    """
    on in at by near beside under over above below across along around behind inside outside into
    onto through against between among beneath atop underneath within amid past beyond upon
    """
)
_OTHER_PREPOSITIONS = _word_set(
    """
    with without for from of to during about like as via after before until since
    """
)
_CONJUNCTIONS = _word_set(
    """
    and or & plus nor but while
    """
)
_VERBS = _word_set(
    """
    is are was were be being been sits sit stands stand lies lie hangs hang floats float flies fly
    rests rest waits wait looks look shows show holds hold
    """
)
# Containers and quantities: in "a cup of coffee" the thing drawn is what follows "of".
_MEASURES = _word_set(
    """
    cup glass mug bowl plate basket box bunch stack pile bottle jar slice piece pair set group crowd
    field row bag handful lot kind type collection selection variety assortment bouquet pot tray
    loaf sheet bar can carton pack heap flock herd school swarm family colony pod troop team couple
    dozen
    """
)
# Heads that name a trade, a place of trade or an activity around a thing rather than the thing: the
# modifier is the subject ("kayak rentals", "sushi restaurants"), the head a companion.
_LIGHT_HEADS = _word_set(
    """
    supply equipment accessory product goods gear kit part service rental hire repair consulting
    consultancy consultant shop store boutique outlet restaurant cafe parlour parlor house bar class
    lesson course training tutoring coaching care cleaning grooming delivery installation installer
    maintenance club market marketplace fair show festival school academy company business agency
    studio center centre tip guide idea news review maker making manufacturer tour trip ride ticket
    booking teacher instructor advisor adviser expert specialist retreat resort holiday vacation
    platter case cover holder stand rack set brand app blog charger cable ceremony party celebration
    event therapy treatment change exchange crossing removal replacement inspection
    """
)
# Places, containers and vehicles of a trade, and the time of an event: "karaoke bars", "turtle tanks",
# "taco trucks", "coffee carts", "archery ranges", "karaoke night". The icon set cannot tell these from
# things (a truck is a truck), so they are listed; they hand over only to a modifier the vocabulary names.
_PLACE_HEADS = _word_set(
    """
    truck van cart trailer stall kiosk booth pub bar tank cage hutch kennel range court rink hall
    arena alley salon lounge park workshop garage vineyard orchard farm plantation insurance loan
    night day evening weekend morning food
    """
)
# People named by what they work with or for: "truck drivers", "dog walkers", "guitar players", "makeup
# artists", "window cleaners": the modifier is the subject; alone, the word is its own trade.
_AGENT_HEADS = _word_set(
    """
    driver rider owner worker seller dealer vendor collector lover enthusiast fan walker sitter trainer
    keeper breeder groomer cleaner washer player artist coach therapist stylist technician operator
    planner organizer organiser supplier designer builder layer fighter cutter diver catcher picker
    hunter fitter mover
    """
)
_LIGHT_HEADS = _LIGHT_HEADS | _PLACE_HEADS | _AGENT_HEADS
# Words that are never a thing: a stem or a tool is never one of these ("owner" is no "own", "outer"
# no "out", "layer" no "lay").
_FUNCTION_WORDS = (
    _DETERMINERS
    | _LOCATIVE
    | _OTHER_PREPOSITIONS
    | _CONJUNCTIONS
    | _VERBS
    | _word_set("own out up down off so no not he she it we they us them lay let get got put go do")
)
_ADJECTIVES = _word_set(
    """
    fresh wooden modern old new vintage antique small large big little tiny huge calm stormy sunny
    snowy rainy cloudy foggy misty busy quiet cozy cosy warm cold cool red orange yellow green blue
    purple pink brown black white grey gray golden silver bright dark soft organic natural local
    handmade homemade vegan vegetarian electric smart wireless digital mechanical professional
    personal luxury cheap affordable premium best top beautiful elegant rustic urban rural tropical
    healthy happy young elderly classic traditional contemporary minimalist colorful colourful empty
    full open closed crowded wild giant ancient famous popular used cute fancy simple clean wet dry
    frozen fried grilled baked roasted raw sweet spicy delicious tasty crispy creamy juicy fluffy
    shiny sleek futuristic retro abstract early late gentle bustling lush sandy rocky icy shallow
    deep tall short long wide narrow round square flat glowing sunlit moonlit starry hazy quick easy
    free online international independent eco sustainable reusable portable indoor outdoor kids
    children's mens womens ladies family
    """
)
_ADJECTIVE_SUFFIXES = ("ful", "ous", "ive", "less", "ish", "ed")
# People named by no trade: what they do is the subject ("a person meditating" draws meditation).
_PERSONS = _word_set(
    """
    person people man woman someone couple friend adult individual crowd child kid boy girl student
    pupil hand tourist traveler traveller visitor customer guest teenager toddler
    """
)
# Glyph tiers, strongest first: a curated hint, an icon's name, a catalogue category's name or alias
# (curated for this project), an icon's alias (MDI's, broader: "language" is a globe), an icon's name
# less its kind ("hot dog": food-hot-dog; never a companion's reason), an icon whose name holds the
# word, an icon whose alias holds it, the renderer's broad category hints. PART, ALIAS_PART and BROAD
# are guesses, not names.
HINT, NAME, CATALOGUE, ALIAS, TAIL, PART, ALIAS_PART, BROAD = range(8)


@dataclass(frozen=True)
class _Phrase:
    """A noun phrase: its words (singular, function words dropped), what introduced it, its role."""

    words: tuple[str, ...]
    preposition: str | None = None  # the preposition before it, if any
    verb: str | None = None  # the verb before it ("driving" a tractor), if any
    action: str | None = None  # the verb after it ("a person meditating"), if any


@cache
def _hints() -> dict[frozenset[str], str]:
    """Curated hints (measured misses) and kin (words the icon set lacks -> the glyph of their kind)."""
    data = json.loads(resources.files("imagegen").joinpath("data/subject_hints.json").read_text())
    return {
        frozenset(icon_set.singular(w) for w in key.split()): name
        for key, name in {**data["kin"], **data["trades"], **data["hints"]}.items()
    }


@cache
def _trades() -> frozenset[frozenset[str]]:
    data = json.loads(resources.files("imagegen").joinpath("data/subject_hints.json").read_text())
    return frozenset(frozenset(icon_set.singular(w) for w in key.split()) for key in data["trades"])


# A word is specific when the icons it names or aliases belong to at most this many families (the first
# part of a name): "watermelon" (fruit-), "chili" (chili-), "taco"; not "sun" (weather-, shield-, ...).
_SPECIFIC_FAMILIES = 2


@cache
def _catalogue() -> dict[frozenset[str], str]:
    """Every catalogue category's name and alias (as word sets) -> its icon; names win over aliases.

    The same file logic.categories reads: providers sit below logic and may not import it."""
    data = json.loads(resources.files("imagegen").joinpath("data/categories.json").read_text())
    found: dict[frozenset[str], str] = {}
    for by_name in (True, False):
        for category in data["categories"]:
            for text in [category["name"]] if by_name else category["aliases"]:
                key = frozenset(icon_set.singular(w) for w in _tokens(text) if w not in {"and", "&"})
                found.setdefault(key, category["icon"])
    return found


def _specific(word: str) -> bool:
    return len(icon_set.families().get(word, frozenset())) <= _SPECIFIC_FAMILIES


def _catalogue_or_icon(key: frozenset[str]) -> str:
    """The catalogue's icon for these words, unless they are only a category's alias (a member of a
    broader class: "heels" of Shoes, "chess" of Board Games) and one specific word that an icon of the
    same kind (an MDI tag in common) holds in its name: then that icon (shoe-heel, chess-king)."""
    icon = _catalogue()[key]
    if key in _catalogue_names() or len(key) != 1:
        return icon
    (word,) = key
    if len(icon_set.families().get(word, frozenset())) > _SPECIFIC_FAMILIES:
        return icon
    held = icon_set.vocabulary().parts.get(word, ())  # by an alias, a guess: "canvas" is no artboard
    return icon if icon in held or not held else held[0]


@cache
def _catalogue_names() -> frozenset[frozenset[str]]:
    data = json.loads(resources.files("imagegen").joinpath("data/categories.json").read_text())
    return frozenset(
        frozenset(icon_set.singular(w) for w in _tokens(category["name"]) if w not in {"and", "&"})
        for category in data["categories"]
    )


@cache
def _broad() -> dict[str, str]:
    return {icon_set.singular(key): name for name, keys in icon_set.HINTS.items() for key in keys}


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("-", " "))


def _is_adjective(word: str) -> bool:
    """A listed adjective, or a word with an adjective's suffix that is no icon's own name: "jellyfish"
    and "beehive" are things, not "-ish" and "-ive" adjectives."""
    if word in _ADJECTIVES:
        return True
    return len(word) > 5 and word.endswith(_ADJECTIVE_SUFFIXES) and not _is_name(word)


def _is_name(word: str) -> bool:
    """True when the word is an icon's own name or a curated one (hint, kin, trade): a concrete noun."""
    key = frozenset([word])
    return key in icon_set.vocabulary().names or key in _hints()


def _is_verb(word: str, after_noun: bool) -> bool:
    """A verb ends a noun phrase: a finite one anywhere, a participle ("launching", "parked") after a noun."""
    return word in _VERBS or (after_noun and len(word) > 4 and word.endswith(("ing", "ed")))


class _Reader:
    """Reads words left to right into noun phrases, each with the preposition or verb before it."""

    def __init__(self) -> None:
        self.found: list[_Phrase] = []
        self.words: list[str] = []
        self.measures: list[tuple[str, ...]] = []  # "cup" of "a cup of coffee", waiting for "coffee"
        self.preposition: str | None = None
        self.verb: str | None = None

    def close(self, preposition: str | None = None, verb: str | None = None) -> None:
        if self.words:
            self.found.append(_Phrase(tuple(self.words), self.preposition, self.verb))
        self.found.extend(_Phrase(measure, "of") for measure in self.measures)  # the cup of the coffee
        self.words, self.measures = [], []
        self.preposition, self.verb = preposition, verb

    def read(self, word: str, last: bool) -> None:
        words = self.words
        if word == "of" and words and words[-1] in _MEASURES:
            self.measures.append(tuple(words))
            self.words = []
        elif word in _LOCATIVE or word in _OTHER_PREPOSITIONS:
            self.close(preposition=word)
        elif word in _CONJUNCTIONS:
            self.close()
        elif word in _DETERMINERS or word.isdigit():
            if words and not _is_adjective(words[-1]):  # "a tractor" after a verb's phrase starts anew
                self.close(verb=self.verb)
        elif words and _is_verb(word, after_noun=not _is_adjective(words[-1])):
            self.read_verb(word, last)
        else:
            words.append(icon_set.singular(word))

    def read_verb(self, word: str, last: bool) -> None:
        compound = _compound_with(self.words[-1], word, last)
        if compound:
            self.words.append(compound)
            return
        self.close(verb=word)
        if self.found and self.found[-1].verb is None:
            self.found[-1] = replace(self.found[-1], action=word)


def phrases(text: str) -> list[_Phrase]:
    """The noun phrases of `text`, in order, each with the preposition or verb that introduced it.

    "A cup of coffee" gives the phrase "coffee" in the cup's place, and "cup" after it as an "of"."""
    reader = _Reader()
    words = _tokens(text)
    for position, word in enumerate(words):
        reader.read(word, last=position == len(words) - 1)
    reader.close()
    return reader.found


def _compound_with(noun: str, participle: str, last: bool) -> str | None:
    """The participle's form when it and the noun before it name one thing ("rocket launching" ->
    rocket-launch, "office building"), or when it ends a category and names a thing of its own ("airport
    parking"); else None: a verb ("a dog playing in the park") or an activity ("dog grooming")."""
    stem = participle.removesuffix("ing")
    for form in (stem, stem + "e", participle):  # "ice skating" -> ice skate
        if (found := _lookup((noun, form))) and found[1] <= ALIAS:
            return form
    found = _exact((participle,))
    if last and found and found[1] in (HINT, NAME, ALIAS):
        return participle
    # An activity that ends a category is drawn by its tool when the icon set names the tool by the
    # agent noun: "lawn mowing" -> mower, "hedge trimming" -> trimmer; never a guess.
    tools = (stem + "er", stem + "r", stem[:-1] + "er") if len(stem) > 2 else ()
    return next((tool for tool in tools if last and _is_name(tool) and tool not in _FUNCTION_WORDS), None)


def _forms(word: str) -> list[str]:
    """The word and its near kin in the lexicon: the activity of an agent ("hiker" -> hiking, "cyclist"
    -> cycling), the noun or agent of an activity ("meditating" -> meditation, "beekeeping" -> beekeeper).
    Never a function word: "under" is no "und", "over" no "ov", "layer" no "lay"."""
    return [form for form in _all_forms(word) if form == word or form not in _FUNCTION_WORDS]


def _all_forms(word: str) -> list[str]:
    forms = [word, word + "ing"]
    if word.endswith(("er", "or")) and len(word) > 4:  # baker -> bake, potter -> pot, sailor -> sail
        forms += [word[:-2] + "ing", word[:-1] + "ing", word[:-2], word[:-1]]
        if word[-3] == word[-4]:
            forms += [word[:-3]]
    if word.endswith("ist") and len(word) > 5:  # motorcyclist -> motorcycle, pharmacist -> pharmacy
        forms += [word[:-3] + "ing", word[:-3], word[:-3] + "e", word[:-3] + "y"]
    if word.endswith("ian") and len(word) > 5:  # musician -> music, librarian -> library
        forms += [word[:-3], word[:-3] + "y"]
    if word.endswith("ing") and len(word) > 5:  # the noun (meditation) or agent (miner) before the verb
        forms += [word[:-3] + "ion", word[:-3] + "er", word[:-3], word[:-3] + "e"]
    if word.endswith("man") and len(word) > 6:  # "fisherman" -> fisher -> fishing
        forms += _all_forms(word[:-3])
    return forms


def _lookup(words: tuple[str, ...]) -> tuple[str, int] | None:
    """The glyph for exactly these words, and its tier; None when the vocabulary has no such thing."""
    found = _exact(words)
    if found or len(words) > 1:
        return found
    vocabulary = icon_set.vocabulary()
    named = vocabulary.parts.get(words[0], ())
    # A word an icon's name ends with is that icon, never a stem: "containers" are no "contain".
    if named and named[0].split("-")[-1] == words[0]:
        return named[0], PART
    # Kin only by a name, never by a guess; a verb's stem only by an icon's own name ("driving" is not
    # the tape-drive; "mining" is the miner's pickaxe before the landmine).
    weakest = NAME if words[0].endswith("ing") else TAIL
    for form in _forms(words[0])[1:]:
        if (kin := _exact((form,))) and kin[1] <= weakest:
            return kin
    if named:  # "chess" -> chess-king
        return named[0], PART
    if words[0] in _broad():  # curated, before any alias's guess ("sea" is waves, not sea-level rise)
        return _broad()[words[0]], BROAD
    # An icon's alias holds the word: "playground" is the seesaw's (playground-seesaw), not play + ground;
    # a weaker guess than a name's ("hearing aids": ear-hearing, not first-aid's bandage).
    if aliased := vocabulary.alias_parts.get(words[0]):
        return aliased[0], ALIAS_PART
    return _compound_word(words[0])


def _compound_word(word: str) -> tuple[str, int] | None:
    """A closed compound the icon set does not name, by its parts: the head (last part) when it is an
    icon's own name ("sandcastle" -> castle), else the first part by a name or alias ("surfboard" ->
    surf -> surfing, "firefighter" -> fire); always a guess (PART)."""
    if len(word) < 7:
        return None
    # Both parts must be words ("carpenter" is not car + penter, "motorcyclist" not motor + cyclist's
    # rest): a word is one the icon set's names or aliases hold, or a form of one ("fighter" -> fight).
    splits = [(word[:cut], word[cut:]) for cut in range(3, len(word) - 2)]
    splits = [(left, right) for left, right in splits if _is_word(left) and _is_word(right)]
    for left, right in splits:
        # An agent noun as the head ("bricklayer", "woodcutter", "skydiver"): the trade works with the
        # first part, whose glyph draws it (bricks: a wall), not the agent's own sense (layers).
        if right in _AGENT_HEADS and (found := _exact((left,))) and found[1] <= ALIAS:
            return found[0], PART
        if (found := _exact((right,))) and found[1] <= NAME:
            return found[0], PART
    for left, _ in reversed(splits):  # the longest first part: "firefighter" is fire, not fir
        for form in _forms(left):
            if (found := _exact((form,))) and found[1] <= ALIAS:
                return found[0], PART
    return None


def _is_word(part: str) -> bool:
    """True when a part of a closed compound is an English word the vocabulary knows, in some form."""
    known = icon_set.families()
    return any(form in known or frozenset([form]) in _hints() for form in _forms(part))


def _exact(words: tuple[str, ...]) -> tuple[str, int] | None:
    key = frozenset(words)
    vocabulary = icon_set.vocabulary()
    if key in _hints():
        return _hints()[key], HINT
    for candidate in (key, frozenset(["".join(words)])):  # "air balloon" -> airballoon
        if candidate in vocabulary.names:
            return vocabulary.names[candidate], NAME
    if key in _catalogue():
        # A catalogue's name of two words or more is a broad class ("lawn mowers" of Garden Tools); its
        # head, when that is a specific icon's own name, draws the thing itself (mower).
        head = frozenset(words[-1:])
        if len(words) > 1 and head in vocabulary.names and _specific(words[-1]):
            return vocabulary.names[head], NAME
        return _catalogue_or_icon(key), CATALOGUE
    for candidate in (key, frozenset(["".join(words)])):  # "camper van" -> campervan (rv-truck)
        if candidate in vocabulary.aliases:
            return vocabulary.aliases[candidate], ALIAS
    if key in vocabulary.tails:
        return vocabulary.tails[key], TAIL
    return None


def _nouns(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words but adjectives, unless an adjective starts a name with the words after it: "hot dog
    stands" keeps "hot" (a hot dog, not a dog), "personal trainers" keeps "personal"."""
    kept = [w for at, w in enumerate(words) if not _is_adjective(w) or _starts_name(words[at:])]
    return tuple(kept) or words


def _starts_name(words: tuple[str, ...]) -> bool:
    for end in range(len(words), 1, -1):
        found = _exact(words[:end])
        if found and found[1] <= TAIL:
            return True
    return False


def _name_in(words: tuple[str, ...]) -> tuple[Pick, int, tuple[str, ...]] | None:
    """The phrase's subject and its tier, with the words left over as modifiers: the longest name
    ending at the head, else the head, else a modifier (right to left, light words skipped).

    A light head passes the subject to its modifiers unless it is part of a curated name ("baby food";
    "ice cream parlour" -> ice cream). A one-word head also yields to a modifier that names its thing
    more surely (_outranks): "soccer balls", "guitar strings", "watermelon juice", "taco trucks"."""
    nouns = _nouns(words)
    last = len(nouns) - 1
    modifiers = [end for end in range(last - 1, -1, -1) if nouns[end] not in _LIGHT_HEADS]
    if nouns[-1] in _LIGHT_HEADS and last:
        lights = [end for end in range(last - 1, -1, -1) if nouns[end] in _LIGHT_HEADS]  # "truck rentals"
        order = [
            (last, 2, TAIL),
            # a place or vehicle's own name before its parts ("camper van rentals" -> rv-truck)
            *((end, 2, TAIL) for end in lights if nouns[end] in _PLACE_HEADS),
            *((end, 1, BROAD) for end in modifiers),
            *((end, 1, NAME) for end in lights),
            (last, 1, BROAD),
        ]
        for end, shortest, weakest in order:
            if found := _longest(nouns, end, shortest, weakest):
                return found
        return None
    head = _longest(nouns, last, 1, BROAD)
    nearest = None
    for end in modifiers:
        named = _longest(nouns, end, 1, BROAD)
        if named and (head is None or _outranks(named, head)):
            return named
        nearest = nearest or named
    if head and nearest and head[1] > NAME:  # "beer bottles": the bottle of beer's kind
        return _sense(head[0], nearest[0].glyph), head[1], head[2]
    return head


def _longest(
    nouns: tuple[str, ...], end: int, shortest: int, weakest: int
) -> tuple[Pick, int, tuple[str, ...]] | None:
    """The longest span of nouns ending at `end` that the vocabulary names (at most as weak as
    `weakest`), its tier, and the nouns left around it."""
    for start in range(0, end + 2 - shortest):  # longest span first
        span = nouns[start : end + 1]
        found = _lookup(span)
        if found and found[1] <= weakest:
            return Pick(found[0], span), found[1], nouns[:start] + nouns[end + 1 :]
    return None


def _outranks(modifier: tuple[Pick, int, tuple[str, ...]], head: tuple[Pick, int, tuple[str, ...]]) -> bool:
    """True when a modifier, not the one-word head, should be drawn. General rules:
    - the head's glyph is a guess (a name part, a broad hint) and the modifier's is a name or a
      catalogue's ("guitar strings": code-string is a guess);
    - the head is no icon's own name, only a catalogue's or an alias's (often another sense: "juice" is a
      soda bottle, "sauce" a shaker, "globe" the web), and the modifier is a specific word that is an
      icon's name or a part of one ("watermelon juice" -> fruit-watermelon, "chili sauces" -> chili-hot),
      unless the head's glyph is named by the modifier too ("baby strollers" -> baby-buggy);
    - the head is a trade and the modifier a specific icon's own name ("drone pilots" -> drone)."""
    (head_pick, head_tier, _), (pick, tier, _) = head, modifier
    if len(head_pick.words) > 1:  # a multi-word name ("tennis ball") is the thing itself
        return False
    if len(pick.words) > 1 and tier <= TAIL:  # ... and so is a modifier's ("ping pong tables")
        return True
    if head_tier >= PART:  # an alias's guess yields to a name's ("hearing aids": ear-hearing)
        return tier <= CATALOGUE or (head_tier == ALIAS_PART and tier <= PART)
    # A trade ("pilots", the catalogue's "plumbers") yields to a specific thing it works with ("drone
    # pilots"), only by that thing's own icon name: "emergency plumbers" is no car-emergency.
    head_word = head_pick.words[0]
    trade = frozenset(head_pick.words) in _trades() or (
        head_tier == CATALOGUE and head_word.endswith(("er", "ist", "ian"))
    )
    if (head_tier not in (CATALOGUE, ALIAS, TAIL) and not trade) or len(pick.words) != 1:
        return False
    word = pick.words[0]
    named = tier <= NAME or (word in icon_set.vocabulary().parts and not trade)
    specific = len(icon_set.families().get(word, frozenset())) <= _SPECIFIC_FAMILIES
    return named and specific and word not in head_pick.glyph.split("-")


def _sense(pick: Pick, near: str) -> Pick:
    """The sense of a one-word pick nearest to a glyph it stands beside: when its glyph shares no MDI tag
    (kind of thing) with `near`, the first icon whose name holds the word and shares one ("bottle" beside
    beer: bottle-soda, not baby-bottle; "glass": glass-mug, not glasses); else the pick as it is. An icon's
    own name, as written, is never re-sensed ("dog" beside a beer stays a dog, not a hot dog)."""
    word = icon_set.singular(pick.words[0].strip().lower()) if len(pick.words) == 1 else ""
    if not word.isalpha() or pick.glyph == word:  # one word only ("a bottle of beer" is no sense)
        return pick
    kinds = icon_set.tags(near)
    if not kinds or kinds & icon_set.tags(pick.glyph):
        return pick
    for name in icon_set.vocabulary().parts.get(word, ()):
        if kinds & icon_set.tags(name):
            return Pick(name, pick.words)
    return pick


def _companion(words: tuple[str, ...]) -> Pick | None:
    """A companion only by an icon's own name or alias: "craft" (the catalogue's Arts & Crafts) must not
    draw scissors beside a craft beer."""
    if words[-1] in _AGENT_HEADS:  # "truck drivers": a driver is no thing to draw beside the truck
        return None
    found = _lookup(words)
    return Pick(found[0], words) if found and found[1] in (HINT, NAME, ALIAS) else None


def _text(spec: ImageSpec) -> str:
    """The user's own words: an icon's category, a blog prompt before a template wrapped it."""
    if spec.kind == "icon":
        return spec.category or spec.prompt
    return spec.user_prompt or spec.prompt


def _catalogue_names_it(spec: ImageSpec) -> bool:
    """True when the category is a catalogue category's own name: its hand-picked icon is the answer."""
    if not (spec.category and spec.category_match and spec.catalogue_icon):
        return False
    same = [icon_set.singular(w) for w in _tokens(spec.category) if w not in {"and", "&"}]
    return same == [icon_set.singular(w) for w in _tokens(spec.category_match) if w not in {"and", "&"}]


def choose(spec: ImageSpec) -> Subject:
    """The subject of an icon (its category, catalogue icon and custom elements) or a blog image (its
    prompt, the user's words rather than a template's), its companions and its setting."""
    text = _text(spec)
    picks: list[Pick] = []  # the subject first, then companions
    setting: Pick | None = None
    # A person named by no trade ("children", "a woman") yields to what they act on ("building a
    # sandcastle", "reading books"), else to what they do ("meditating"), else is the subject.
    person: list[Pick] = []
    action: Pick | None = None
    later: list[Pick] = []  # places after the setting ("at sunset"): companions, never the subject
    tiers: dict[Pick, int] = {}  # each phrase's pick and how surely the vocabulary names it
    prepositions: dict[Pick, str | None] = {}
    for index, phrase in enumerate(phrases(text)):
        named = _incorporated(phrase) or _name_in(phrase.words)
        if named:
            tiers.setdefault(named[0], named[1])
            prepositions.setdefault(named[0], phrase.preposition)
        if index == 0 and _nouns(phrase.words)[-1] in _PERSONS:
            found = _lookup((phrase.action,)) if phrase.action else None
            action = Pick(found[0], (phrase.action or "",)) if found and found[1] <= ALIAS else None
            person = [named[0]] if named else []
            continue
        if named is None:
            continue
        pick, _, rest = named
        locative = phrase.preposition in _LOCATIVE and bool(picks or action)
        if setting is None and locative:
            setting = pick
        else:
            (later if locative else picks).append(pick)
        (later if locative else picks).extend(p for p in (_companion((w,)) for w in reversed(rest)) if p)
    picks = [*picks, *person] if picks else [*([action] if action else []), *person]
    picks += later
    if thing := _named_thing(picks, setting, tiers, prepositions):  # "a skydiver under an open parachute"
        picks = [thing, *(p for p in picks if p != thing)]
        setting = None if setting == thing else setting
    alternatives = [n for n in icon_set.search(text, limit=4) if n != icon_set.FALLBACK]
    if spec.catalogue_icon:
        alternatives.insert(0, spec.catalogue_icon)
    picks, chooser = _decide(spec, text, picks, alternatives)
    subject = picks[0]
    elements = [_sense(p, subject.glyph) for p in map(_element, spec.custom_elements) if p]
    return Subject(
        subject=subject,
        companions=_distinct(elements, picks[1:], subject, setting),
        setting=setting if setting and setting.glyph != subject.glyph else None,
        alternatives=tuple(dict.fromkeys(n for n in alternatives if n != subject.glyph))[:3],
        chooser=chooser,
    )


def _decide(spec: ImageSpec, text: str, picks: list[Pick], alternatives: list[str]) -> tuple[list[Pick], str]:
    """The picks with the subject first, and what chose it ("grammar" or "model")."""
    words = tuple(_tokens(text))
    if _catalogue_names_it(spec) and spec.catalogue_icon:  # the catalogue's own, hand-picked icon
        return [Pick(spec.catalogue_icon, words), *picks], "grammar"
    if _misspelt(spec, picks) and spec.catalogue_icon:  # "electrnics": the catalogue's close spelling
        return [Pick(spec.catalogue_icon, words)], "grammar"
    if modelled := _by_model(text, picks[0] if picks else None, icon=spec.kind == "icon"):
        # the grammar's subject is dropped (it was wrong), its modifiers stay as companions
        return [modelled, *(p for p in picks[1:] if p.glyph != modelled.glyph)], "model"
    if not picks:  # nothing in the words and no model: the catalogue's match, the index
        return [Pick(alternatives[0] if alternatives else icon_set.FALLBACK, words)], "grammar"
    return picks, "grammar"


# How far the sentence model's best icon must beat the grammar's glyph (in cosine), by how surely the
# vocabulary names the grammar's words as that glyph. Set by leave-one-split-out runs on the committed
# evaluation set, each written down before the next unseen split was scored (README, "offline provider").
# An icon category: an icon's own name or a curated hint is never overruled; a catalogue's, an alias's or
# a name less its kind (CATALOGUE..TAIL) is, by a clear margin; a guess (PART..BROAD) by a small one.
_ICON_MARGIN = {CATALOGUE: 0.3, ALIAS: 0.3, TAIL: 0.3, PART: 0.1, ALIAS_PART: 0.1, BROAD: 0.1}
# A blog prompt: the grammar reads a sentence's subject well but knows only the icon set's words, so it
# names a glyph surely more often than it is right ("a ship's wheel" -> tire); every pick can be overruled.
_BLOG_MARGIN = {
    HINT: 0.3,
    NAME: 0.3,
    CATALOGUE: 0.2,
    ALIAS: 0.2,
    TAIL: 0.2,
    PART: 0.2,
    ALIAS_PART: 0.2,
    BROAD: 0.2,
}
# A variant's name ("toy-brick-plus", "bell-badge") is no thing of its own: its score is lowered by this.
_VARIANT_PENALTY = 0.05


def _by_model(text: str, pick: Pick | None, icon: bool) -> Pick | None:
    """The icon the sentence model finds nearest the user's words (all-MiniLM-L6-v2, cosine of the text
    with each icon's name), when it should replace the grammar's pick: when the grammar has none, when its
    glyph is an inference the words do not name (_sureness), or when the model's beats it by the margin
    above. None when the grammar's pick stands or no model is installed."""
    margins = _ICON_MARGIN if icon else _BLOG_MARGIN
    tier = _sureness(pick) if pick else None
    if tier is not None and tier not in margins:  # an icon category's own name or a curated hint
        return None
    scores = sentence_model.icon_scores(text)
    if not scores:
        return None
    variants = _variants()
    best = max(scores, key=lambda name: scores[name] - _VARIANT_PENALTY * (name in variants))
    best_score = scores[best] - _VARIANT_PENALTY * (best in variants)
    if pick is not None and tier is not None:
        own = scores.get(pick.glyph.removesuffix("-outline"))
        if own is not None and best_score - own <= margins[tier]:
            return None
    return Pick(best, tuple(w for w in _tokens(text) if w not in _FUNCTION_WORDS))  # the words it read


@cache
def _variants() -> frozenset[str]:
    return frozenset(name for name in sentence_model.icon_names() if icon_set.is_variant(name))


def _sureness(pick: Pick) -> int | None:
    """How surely the vocabulary names the pick's words as its glyph (a tier), or None when the glyph is an
    inference the words do not name directly (a sense chosen by a neighbour, a verb's compound, a person's
    action): then the model decides."""
    found = _lookup(pick.words) if pick.words else None
    return found[1] if found and found[0] == pick.glyph else None


# A catalogue match this close to words the grammar finds nothing in is their misspelling ("electrnics" is
# Electronics at 91); a model reads a misspelt word as other words (the electric guitar).
_MISSPELT_SCORE = 90.0


def _misspelt(spec: ImageSpec, picks: list[Pick]) -> bool:
    return not picks and (spec.category_score or 0.0) >= _MISSPELT_SCORE


def _incorporated(phrase: _Phrase) -> tuple[Pick, int, tuple[str, ...]] | None:
    """The thing a verb and its object name as one closed compound, object first, when that is an icon's
    name: "shaking hands" -> handshake, "washing dishes" -> dishwasher; else None."""
    if not phrase.verb or not phrase.verb.endswith("ing") or not phrase.words:
        return None
    stem, noun = phrase.verb[:-3], _nouns(phrase.words)[-1]
    stems = {stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else stem}
    for joined in (noun + form + end for form in sorted(stems) for end in ("", "r", "er")):
        if _is_name(joined):
            return Pick(icon_set.vocabulary().names[frozenset([joined])], (phrase.verb, noun)), NAME, ()
    return None


def _named_thing(
    picks: list[Pick], setting: Pick | None, tiers: dict[Pick, int], prepositions: dict[Pick, str | None]
) -> Pick | None:
    """A thing the words name exactly, to draw instead of a subject the vocabulary only guesses at (a
    name part, a broad hint) or a person it knows by a broader class (a catalogue's or an alias's: a
    chemist is a pharmacy): "a skydiver under an open parachute" (sky + diver, a guess) draws the
    parachute, "a chemist pouring a liquid into a flask" the flask. Only an icon's own name or a curated
    one, never a place: a setting after "at", "on", "from"... stays the setting ("a fisherman on a
    pier"), a container stays one ("a basket of apples"): only an object, a "with" and an "into", an
    "under" and the like hold a thing."""
    if not picks or picks[0] not in tiers:
        return None
    tier, words = tiers[picks[0]], picks[0].words
    person = len(words) == 1 and words[0].endswith(_AGENT_ENDINGS) and tier in (CATALOGUE, ALIAS)
    if tier < PART and not person:
        return None
    later = [*picks[1:], *([setting] if setting else [])]
    return next(
        (
            p
            for p in later
            if tiers.get(p, BROAD) <= NAME and prepositions.get(p) in _HOLDING and not _is_place(p)
        ),
        None,
    )


# Agent nouns (a chemist, a fisherman) and prepositions that place a thing rather than a scene.
_AGENT_ENDINGS = ("ist", "ian", "man", "er", "or")
_HOLDING = _word_set("into under underneath beneath inside onto with") | {None}


def _is_place(pick: Pick) -> bool:
    """True when the pick names a scene's setting (a sea, a table, an office): offline_scenes' words."""
    from imagegen.providers.offline_scenes import SCENE_WORDS  # here: offline_scenes imports this module

    words = set(icon_set.words(pick.glyph.replace("-", " "), *pick.words))
    return any(words.intersection(setting) for setting in SCENE_WORDS.values())


def _element(element: str) -> Pick | None:
    """A custom element's glyph ("a bowl of kibble" -> bowl), or None when the icon set has none."""
    for phrase in phrases(element):
        named = _name_in(phrase.words)
        if named:
            return Pick(named[0].glyph, (element,))
    return None


def _distinct(
    elements: list[Pick], modifiers: list[Pick], subject: Pick, setting: Pick | None
) -> tuple[Pick, ...]:
    """The companions, each glyph once: every custom element (the caller asked for each; the request
    allows at most 10), then the modifiers' glyphs while fewer than MAX_COMPANIONS are kept."""
    taken = {subject.glyph, setting.glyph if setting else ""}
    kept: list[Pick] = []
    for pick in [*elements, *modifiers]:
        if pick.glyph not in taken and (pick in elements or len(kept) < MAX_COMPANIONS):
            taken.add(pick.glyph)
            kept.append(pick)
    return tuple(kept)
