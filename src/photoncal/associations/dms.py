"""The DMS rule sets: the level 2 (``DMSLevel2bBase``) and level 3 (``DMS_Level3_Base``) bases.

A rule is one of these classes plus data: its constraint tree and a few
options, read from a rule file (see `photoncal.associations.ruledefs`). The
classes hold what the data cannot: how a pool item becomes a member (its
exposure type and file name), how products and association files are named,
which validity tests an association must pass before it is kept, and the
finalisation of a list of associations (validity, pruning of duplicates,
sequence numbers).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

from .association import Association
from .constraint import EMPTY_VALUES, AttrConstraint, ConstraintGroup, ValueConstraint, evaluate
from .exceptions import AssociationError, AssociationNotValidError
from .naming import (
    ACID,
    ASN_NAME_TEMPLATE,
    ASN_NAME_TEMPLATE_STAMP,
    DISCOVERED_ID_START,
    candidate_sort_key,
    exposure_root,
    member_name,
)

__all__ = [
    "ACQ_EXP_TYPES",
    "DMSBase",
    "DMSLevel2bBase",
    "DMS_Level3_Base",
    "EXPTYPE_MAP",
    "IMAGE2_NONSCIENCE_EXP_TYPES",
    "IMAGE2_SCIENCE_EXP_TYPES",
    "Member",
    "finalize",
    "merge_level2",
    "prune",
    "resequence",
]

logger = logging.getLogger(__name__)

PRODUCT_NAME_DEFAULT = "undefined"
DEGRADED_STATUS_OK = "No known degraded exposures in association."
DEGRADED_STATUS_NOTOK = (
    "One or more members have an error associated with them."
    "\nDetails can be found in the member.exposerr attribute."
)

# Target acquisition and confirmation exposure types.
ACQ_EXP_TYPES = frozenset(
    {
        "mir_tacq", "mir_taconfirm", "nis_taconfirm", "nis_tacq", "nrc_taconfirm",
        "nrc_tacq", "nrs_confirm", "nrs_msata", "nrs_taconfirm", "nrs_tacq",
        "nrs_taslit", "nrs_verify", "nrs_wata",
    }
)  # fmt: skip

# EXP_TYPE values whose member type is not "science".
EXPTYPE_MAP = {
    "mir_darkall": "dark", "mir_darkimg": "dark", "mir_darkmrs": "dark",
    "mir_flatimage": "flat", "mir_flatmrs": "flat", "mir_flatimage-ext": "flat",
    "mir_flatmrs-ext": "flat", "mir_tacq": "target_acquisition",
    "mir_taconfirm": "target_acquisition", "nis_dark": "dark", "nis_focus": "engineering",
    "nis_lamp": "engineering", "nis_tacq": "target_acquisition",
    "nis_taconfirm": "target_acquisition", "nrc_dark": "dark", "nrc_flat": "flat",
    "nrc_focus": "engineering", "nrc_led": "engineering", "nrc_tacq": "target_acquisition",
    "nrc_taconfirm": "target_acquisition", "nrs_autoflat": "autoflat",
    "nrs_autowave": "autowave", "nrs_confirm": "target_acquisition", "nrs_dark": "dark",
    "nrs_focus": "engineering", "nrs_image": "engineering", "nrs_lamp": "engineering",
    "nrs_msata": "target_acquisition", "nrs_tacq": "target_acquisition",
    "nrs_taconfirm": "target_acquisition", "nrs_taslit": "target_acquisition",
    "nrs_wata": "target_acquisition",
}  # fmt: skip

# Exposures that get level 2b (image2) processing as science, and as non-science.
IMAGE2_SCIENCE_EXP_TYPES = (
    "fgs_image", "mir_4qpm", "mir_image", "mir_lyot", "nis_ami", "nis_image",
    "nrc_coron", "nrc_image", "nrs_mimf", "nrc_tsimage",
)  # fmt: skip
IMAGE2_NONSCIENCE_EXP_TYPES = (
    "mir_coroncal", "nis_focus", "nrc_focus", "nrs_focus", "nrs_image",
    *sorted(ACQ_EXP_TYPES),
)  # fmt: skip
SPEC2_SCIENCE_EXP_TYPES = (
    "mir_lrs-fixedslit", "mir_lrs-slitless", "mir_mrs", "mir_wfss", "nis_soss", "nis_wfss",
    "nrc_tsgrism", "nrc_wfss", "nrs_fixedslit", "nrs_ifu", "nrs_msaspec", "nrs_brightobj",
)  # fmt: skip
LEVEL2B_EXP_TYPES = frozenset(
    IMAGE2_SCIENCE_EXP_TYPES + IMAGE2_NONSCIENCE_EXP_TYPES + SPEC2_SCIENCE_EXP_TYPES
)
TSO_EXP_TYPES = ("nrc_tsimage", "nrc_tsgrism", "nrs_brightobj")
CORON_EXP_TYPES = ("mir_4qpm", "mir_lyot", "nrc_coron")

# Pool flags that turn a science exposure into another member type, by precedence.
SPECIAL_EXPOSURE_MODIFIERS = (("psf", "is_psf"), ("imprint", "is_imprt"), ("background", "bkgdtarg"))

# Candidate types whose associations must span more than one observation.
MULTI_OBS_CANDIDATE_TYPES = ("group", "background", "mosaic")

_DMS_POOLNAME_REGEX = re.compile(r"jw(\d{5})_(\d{8}[Tt]\d{6})_pool")


def _valid(item, column):
    """The item's value of ``column``, or None when absent or "not specified"."""
    value = item.get(column)
    if value is None:
        return None
    text = str(value).strip().lower()
    return None if text in EMPTY_VALUES else text


class Member(dict):
    """An association member (``expname``, ``exptype``, ...) remembering its pool item."""

    def __init__(self, data=(), item=None):
        super().__init__(data)
        self.item = item

    def same_member(self, other) -> bool:
        """Members are the same when ``expname`` and ``exptype`` agree."""
        return self.get("expname") == other.get("expname") and str(
            self.get("exptype", "")
        ).lower() == str(other.get("exptype", "")).lower()


class DMSBase(Association):
    """Behaviour shared by the DMS level 2 and level 3 rule sets.

    Rule classes made from data set the class attributes below.
    """

    #: Constraint tree of the rule (data; see ruledefs).
    _definition = None
    #: Named constraint blocks the definition may ``use``.
    _library: dict = {}
    #: ``asn_type`` of the associations the rule makes.
    ASN_TYPE = "user_built"
    #: Count members of every pointing/exposure type as science (auxiliary-data rules).
    EXPOSURE_TYPE_AS_SCIENCE = False
    #: Only candidates of these types make valid associations (None: any).
    CANDIDATE_TYPES: tuple | None = None
    #: Member types that must be present (e.g. ``psf`` for coronagraphy).
    REQUIRED_EXPTYPES: tuple = ()

    def __init__(self, version_id=None):
        self._acid = None
        self._asn_name = None
        self._items_by_filename = {}
        self.current_sequence = None
        self.validity = {}
        super().__init__(version_id=version_id)
        self.data.setdefault("degraded_status", DEGRADED_STATUS_OK)
        self.data.setdefault("program", "noprogram")
        if self.CANDIDATE_TYPES is not None:
            allowed = tuple(t.lower() for t in self.CANDIDATE_TYPES)
            self.validity["candidate_type"] = {
                "validated": False,
                "check": lambda member: self.acid.type in allowed,
            }
        for exptype in self.REQUIRED_EXPTYPES:
            self.validity[f"has_{exptype}"] = {
                "validated": False,
                "check": lambda member, wanted=exptype.lower(): member["exptype"] == wanted,
            }

    @classmethod
    def accepts_candidate_type(cls, candidate_type) -> bool:
        """False when associations of this candidate type can never be valid for the rule."""
        if cls.CANDIDATE_TYPES is not None:
            return str(candidate_type).lower() in {t.lower() for t in cls.CANDIDATE_TYPES}
        return True

    # -- constraints from data -----------------------------------------------
    def build_constraints(self):
        if self._definition is None:
            return ConstraintGroup([], name="rule")
        cls = type(self)
        make = cls.__dict__.get("_make_constraints")
        if make is None:
            from .ruledefs import compile_node

            where = f"{getattr(self, '_source', 'rules')}, rule {self.rule_name()!r}"
            make = compile_node(self._definition, self._library, where=where)
            cls._make_constraints = make
        node = make(self)
        if not isinstance(node, ConstraintGroup):
            node = ConstraintGroup([node])
        return node

    def computed_source(self, name):
        """The function of an item that a ``computed: name`` constraint reads.

        ``exposure_type``: the member type the item would get in this rule;
        ``item_exposure_type``: the item's own type (pointing, EXP_TYPE and
        flags), whatever the rule counts it as;
        ``has_science``: whether the association already has its science member;
        ``is_tso``: whether the item is a time-series exposure.
        """
        if name == "exposure_type":
            return lambda item: self.get_exposure_type(item)
        if name == "item_exposure_type":
            return lambda item: DMSBase.get_exposure_type(self, item)
        if name == "has_science":
            return lambda item: self.has_science()
        if name == "is_tso":
            return lambda item: self.is_item_tso(item)
        raise AssociationError(
            f"{getattr(self, '_source', 'rules')}, rule {self.rule_name()!r}: unknown computed "
            f"value {name!r}; known: "
            "exposure_type, item_exposure_type, has_science, is_tso"
        )

    # -- candidate, names ------------------------------------------------------
    @property
    def acid(self) -> ACID:
        """The association candidate: from the candidate constraint, else discovered."""
        if self._acid is not None:
            return self._acid
        for leaf in self.constraints.leaves():
            if getattr(leaf, "is_acid", False) and leaf.found_values:
                try:
                    return ACID(leaf.found_values[0])
                except ValueError:
                    continue
        return ACID((f"a{DISCOVERED_ID_START}", "discovered"))

    @property
    def asn_name(self) -> str:
        """``jwPPPPP-TNNNN[_version]_ATYPE_MMM_asn`` in lower case."""
        if self._asn_name:
            return self._asn_name
        fields = {
            "program": self.data["program"],
            "acid": self.acid.id,
            "type": self.data["asn_type"],
            "sequence": self.current_sequence or 1,
        }
        if self.version_id:
            name = ASN_NAME_TEMPLATE_STAMP.format(stamp=self.version_id, **fields)
        else:
            name = ASN_NAME_TEMPLATE.format(**fields)
        return name.lower()

    @asn_name.setter
    def asn_name(self, name):
        self._asn_name = name

    # -- members ----------------------------------------------------------------
    @property
    def current_product(self):
        return self.data["products"][-1]

    def new_product(self, name=PRODUCT_NAME_DEFAULT):
        """Start a new product."""
        self.data.setdefault("products", []).append({"name": name, "members": []})

    @property
    def from_items(self):
        """The pool items the members came from."""
        return [
            member.item
            for product in self.data.get("products", [])
            for member in product["members"]
            if getattr(member, "item", None) is not None
        ]

    def is_item_member(self, item) -> bool:
        """True if this very item is a member.

        The copies list expansion makes of one pool row differ in the
        expanded cell (one candidate, one filter each), so a copy is not taken
        for the row or another copy already added.
        """
        same_file = self._items_by_filename.get(item.get("filename"))
        return bool(same_file) and any(dict(source) == dict(item) for source in same_file)

    def _remember(self, member):
        if member.item is not None:
            self._items_by_filename.setdefault(member.item.get("filename"), []).append(member.item)

    def is_member(self, member) -> bool:
        """True if the current product already has this member."""
        try:
            members = self.current_product["members"]
        except (KeyError, IndexError):
            return False
        return any(
            existing.get("expname") == member["expname"]
            and existing.get("exptype") == member["exptype"]
            for existing in members
        )

    def members_by_type(self, member_type):
        member_type = member_type.lower()
        try:
            members = self.current_product["members"]
        except (KeyError, IndexError):
            return []
        return [member for member in members if member["exptype"].lower() == member_type]

    def has_science(self) -> bool:
        """True once the current product has a science member."""
        return len(self.members_by_type("science")) >= 1

    def get_exposure_type(self, item, default="science"):
        """The member type of a pool item.

        Not-science pointings (``PNTGTYPE``) give their own type
        (``target_acquisition``); otherwise ``EXP_TYPE`` maps darks, flats,
        acquisitions, ...; science exposures flagged ``IS_PSF``, ``IS_IMPRT``
        or ``BKGDTARG`` become ``psf``, ``imprint`` or ``background``.
        """
        if default == "science":
            cached = getattr(item, "_dms_exposure_type", None)
            if cached is not None:
                return cached
        result = self._item_exposure_type(item, default)
        if default == "science" and hasattr(item, "__dict__"):
            # A pool row's own type never changes; copies made by list
            # expansion are new objects and compute theirs.
            item._dms_exposure_type = result
        return result

    @staticmethod
    def _item_exposure_type(item, default):
        pointing = _valid(item, "pntgtype")
        if pointing is not None and pointing != "science":
            return pointing
        exp_type = _valid(item, "exp_type")
        if exp_type is None:
            raise AssociationError(
                f"pool item {item.get('filename', '?')!r} has no EXP_TYPE; cannot tell its "
                "member type"
            )
        result = EXPTYPE_MAP.get(exp_type, default)
        if result != "science":
            return result
        for special, column in SPECIAL_EXPOSURE_MODIFIERS:
            if _valid(item, column) is not None:
                return special
        return result

    def is_item_tso(self, item) -> bool:
        """True for time-series exposures (TSOVISIT, or a TSO EXP_TYPE)."""
        if _valid(item, "pntgtype") not in (None, "science"):
            return False
        exp_type = _valid(item, "exp_type")
        if exp_type in ACQ_EXP_TYPES:
            return False
        return _valid(item, "tsovisit") == "t" or exp_type in TSO_EXP_TYPES

    def is_item_coron(self, item) -> bool:
        """True for coronagraphic exposures that have an occulter in the field."""
        if _valid(item, "pntgtype") not in (None, "science"):
            return False
        exp_type = _valid(item, "exp_type")
        if exp_type not in CORON_EXP_TYPES:
            return False
        if exp_type == "nrc_coron" and _valid(item, "subarray") == "full":
            pupil, detector = _valid(item, "pupil"), _valid(item, "detector")
            if pupil == "maskbar" and detector in ("nrca1", "nrca2", "nrca3"):
                return False
            if pupil == "maskrnd" and detector in ("nrca1", "nrca3", "nrca4"):
                return False
        return True

    def is_item_ami(self, item) -> bool:
        """True for NIRISS AMI science exposures."""
        if _valid(item, "pntgtype") not in (None, "science"):
            return False
        return _valid(item, "exp_type") == "nis_ami"

    def uses_integrations(self, item) -> bool:
        """Members of TSO, coronagraphic and AMI exposures are per-integration products."""
        return self.is_item_tso(item) or self.is_item_coron(item) or self.is_item_ami(item)

    # -- validity -----------------------------------------------------------------
    def update_validity(self, member):
        for test in self.validity.values():
            if not test["validated"]:
                test["validated"] = bool(test["check"](member))

    def update_degraded_status(self):
        if self.data["degraded_status"] != DEGRADED_STATUS_OK:
            return
        for product in self.data.get("products", []):
            for member in product["members"]:
                if _valid(member, "exposerr") is not None:
                    self.data["degraded_status"] = DEGRADED_STATUS_NOTOK
                    return

    @classmethod
    def validate(cls, asn, source=None):
        super().validate(asn, source=source)
        if isinstance(asn, DMSBase):
            failed = [name for name, test in asn.validity.items() if not test["validated"]]
            if failed:
                raise AssociationNotValidError(
                    f"{source or asn.asn_name}: validity tests failed: {', '.join(failed)}"
                )
        return True

    # -- product-name helpers ------------------------------------------------------
    def _found(self, name):
        node = self.constraints.get(name)
        if node is None:
            return []
        values = []
        for leaf in node.leaves():
            for value in leaf.found_values:
                if value not in values:
                    values.append(value)
        return values

    def get_instrument(self) -> str:
        return "-".join(self._found("instrument"))

    def get_opt_element(self) -> str:
        """Filter and pupil (or grating), sorted and joined with ``-``; ``clear`` if none."""
        elements = []
        for name in ("opt_elem", "opt_elem2"):
            values = sorted(v for v in self._found(name) if _valid({"v": v}, "v") is not None)
            if values:
                elements.append("-".join(values))
        elements.sort(key=str.lower)
        return "-".join(elements) or "clear"

    def get_slit_name(self) -> str:
        """Fixed-slit names (``fxd_slit``, ``fxd_slit2``), sorted and joined with ``-``."""
        names = []
        for name in ("fxd_slit", "fxd_slit2"):
            for value in sorted(self._found(name)):
                if _valid({"v": value}, "v") is not None and value not in names:
                    names.append(value)
        return "-".join(sorted(names, key=str.lower))

    def get_subarray(self) -> str:
        values = self._found("subarray")
        subarray = "-".join(values)
        return "" if subarray in ("", "full") else subarray

    def get_target(self) -> str:
        """``tNNN`` from the first ``target`` constraint that has a value."""
        for node in self.constraints.nodes():
            if node.name == "target":
                found = [v for leaf in node.leaves() for v in leaf.found_values]
                if found:
                    return f"t{'-'.join(found):0>3s}"
        return "t000"

    def __str__(self):
        lines = [f"{self.asn_name} ({self.asn_rule})"]
        for product in self.data.get("products", []):
            lines.append(f"    {product.get('name')}: {len(product['members'])} members")
        return "\n".join(lines)

    # -- finalisation ---------------------------------------------------------------
    @classmethod
    def finalize_associations(cls, associations):
        """Keep the complete associations of this rule set, pruned of duplicates."""
        kept = []
        for asn in associations:
            finalized = asn.finalize()
            if finalized:
                kept.extend(finalized)
        return prune(kept)


class DMSLevel2bBase(DMSBase):
    """Level 2 associations: one product per science exposure (``image2``, ``spec2``, ...)."""

    schema_level = 2

    def __init__(self, version_id=None):
        super().__init__(version_id=version_id)
        self.validity.update(
            {
                "has_science": {
                    "validated": False,
                    "check": lambda member: member["exptype"] == "science",
                },
                "allowed_candidates": {"validated": False, "check": self.validate_candidates},
            }
        )
        self.data.setdefault("constraints", "No constraints")
        self.data["asn_type"] = "user_built"
        self.data.setdefault("asn_id", f"a{DISCOVERED_ID_START}")
        self.data.setdefault("asn_pool", "none")

    def get_exposure_type(self, item, default="science"):
        self.original_exposure_type = super().get_exposure_type(item, default=default)
        if self.EXPOSURE_TYPE_AS_SCIENCE:
            if self.has_science() and self.original_exposure_type == "imprint":
                return "imprint"
            return default
        if self.original_exposure_type == "psf":
            return default
        return self.original_exposure_type

    @classmethod
    def accepts_candidate_type(cls, candidate_type) -> bool:
        return str(candidate_type).lower() in ("observation", "background") and super(
            DMSLevel2bBase, cls
        ).accepts_candidate_type(candidate_type)

    def validate_candidates(self, member) -> bool:
        """Observation candidates, or background candidates that have a background member."""
        if self.acid.type == "observation":
            return True
        if self.acid.type == "background":
            return any(
                entry["exptype"].lower() == "background"
                for entry in self.current_product["members"]
            )
        return False

    def dms_product_name(self) -> str:
        """The science member's name without its product suffix and extension."""
        science = self.members_by_type("science")
        if not science:
            return PRODUCT_NAME_DEFAULT
        root, _, _ = exposure_root(science[0]["expname"])
        return root

    def make_member(self, item) -> Member:
        suffix = "rateints" if self.uses_integrations(item) else "rate"
        return Member(
            {
                "expname": member_name(item["filename"], suffix),
                "exptype": self.get_exposure_type(item),
                "exposerr": _valid(item, "exposerr"),
            },
            item=item,
        )

    def _init_hook(self, item):
        self.data["asn_type"] = self.ASN_TYPE
        self.data["target"] = str(item.get("targetid", "none"))
        self.data["program"] = f"{str(item.get('program', 'noprogram')):0>5s}"
        self.data["asn_pool"] = Path(getattr(item, "meta", {}).get("pool_file", "none")).name
        self.data["constraints"] = self.constraints.describe()
        self.data["asn_id"] = self.acid.id
        self.new_product(PRODUCT_NAME_DEFAULT)

    def _add(self, item):
        member = self.make_member(item)
        if self.is_member(member):
            return
        self.current_product["members"].append(member)
        self._remember(member)
        self.update_validity(member)
        self.update_degraded_status()
        self.current_product["name"] = self.dms_product_name()
        self.data["constraints"] = self.constraints.describe()

    def _add_items(self, items, meta=None, product_name_func=None, acid="o999", with_exptype=False, **kwargs):
        """One product per item, without any checks (used by `asn_from_list`).

        Parameters
        ----------
        items : list of str, or of (str, str) with ``with_exptype``
            Member file names (and member types).
        meta : dict or None
            Merged into the association (``asn_type``, ``program``, ...).
        product_name_func : callable or None
            ``product_name_func(item, index)`` names each product.
        acid : str
            Candidate id: ``oNNN`` (observation) or ``cNNNN`` (background).
        """
        if acid.startswith("o"):
            self._acid = ACID((acid, "observation"))
        elif acid.startswith("c"):
            self._acid = ACID((acid, "background"))
        else:
            raise AssociationError(
                f"invalid association candidate id {acid!r}: a level 2 association needs "
                "'oNNN' (observation) or 'c1NNN' (background)"
            )
        self.data["asn_id"] = self._acid.id
        for index, item in enumerate(items, start=1):
            expname, exptype = (item if with_exptype else (item, "science"))
            self.new_product()
            member = Member({"expname": expname, "exptype": exptype or "science"}, item=None)
            self.current_product["members"].append(member)
            self.update_validity(member)
            self.update_degraded_status()
            self.current_product["name"] = self.dms_product_name()
            if product_name_func is not None:
                self.current_product["name"] = product_name_func(item, index)
        self.data.update(meta or {})
        self.current_sequence = 1


class DMS_Level3_Base(DMSBase):  # noqa: N801 (the established name)
    """Level 3 associations: exposures combined into one product (``image3``, ...).

    Rules with ``level3_science`` wrap their constraints in the science
    structure: same program and instrument, no imprint exposures, the
    observation numbers recorded, and target acquisitions of the same
    observations added to existing associations.
    """

    schema_level = 3
    #: Wrap the rule constraints with the level 3 science structure.
    LEVEL3_SCIENCE = False

    def __init__(self, version_id=None):
        super().__init__(version_id=version_id)
        self.validity["has_science"] = {
            "validated": False,
            "check": lambda member: member["exptype"] == "science",
        }
        self.data.setdefault("constraints", "No constraints")
        self.data["asn_type"] = "user_built"
        self.data.setdefault("asn_id", f"a{DISCOVERED_ID_START}")
        self.data.setdefault("target", "none")
        self.data.setdefault("asn_pool", "none")

    def build_constraints(self):
        rule = super().build_constraints()
        if not self.LEVEL3_SCIENCE:
            return rule
        rule.name = rule.name or "rule_constraints"
        obs_num = AttrConstraint(
            name="obs_num", sources=["obs_num"], force_unique=False, required=False
        )

        def observed_numbers():
            found = self.constraints["obs_num"].found_values
            return "(" + "|".join(re.escape(value) for value in found) + ")"

        acquisitions = ConstraintGroup(
            [
                ValueConstraint(
                    name="target_acq",
                    sources=lambda item: DMSBase.get_exposure_type(self, item),
                    value="target_acquisition",
                ),
                AttrConstraint(
                    name="acq_obsnum",
                    sources=["obs_num"],
                    value=observed_numbers,
                    force_unique=False,
                ),
            ],
            name="acq_constraint",
        )
        return ConstraintGroup(
            [
                ConstraintGroup(
                    [
                        AttrConstraint(name="program", sources=["program"]),
                        AttrConstraint(name="instrument", sources=["instrume"]),
                    ],
                    name="base",
                ),
                AttrConstraint(sources=["is_imprt"], force_undefined=True),
                ConstraintGroup(
                    [ConstraintGroup([rule, obs_num], name="rule"), acquisitions],
                    reduce="any",
                    name="acq_check",
                ),
            ],
            name="dmsbase_top",
        )

    def get_exposure_type(self, item, default="science"):
        exposure_type = super().get_exposure_type(item, default=default)
        if self.EXPOSURE_TYPE_AS_SCIENCE and exposure_type != "target_acquisition":
            return "science"
        return exposure_type

    @property
    def dms_product_name(self) -> str:
        """``jwPPPPP-TNNNN_tNNN_<instrument>_<optical elements>[-<slit>][-<subarray>]``."""
        subarray = self.get_subarray()
        slit = self.get_slit_name()
        name = (
            f"jw{self.data['program']}-{self.acid.id}_{self.get_target()}_"
            f"{self.get_instrument()}_{self.get_opt_element()}"
            f"{'-' + slit if slit else ''}{'-' + subarray if subarray else ''}"
        )
        return name.lower()

    def make_member(self, item) -> Member:
        exptype = self.get_exposure_type(item)
        exp_type = _valid(item, "exp_type")
        if exptype == "background" and not self.EXPOSURE_TYPE_AS_SCIENCE:
            suffix = "x1d"
        else:
            suffix = "cal" if exp_type in LEVEL2B_EXP_TYPES else "rate"
        if self.uses_integrations(item):
            suffix += "ints"
        candidate = item.get("asn_candidate", "null")
        evaled = evaluate(candidate)
        if isinstance(evaled, tuple):
            candidate = str([evaled])
        return Member(
            {
                "expname": member_name(item["filename"], suffix),
                "exptype": exptype,
                "exposerr": _valid(item, "exposerr"),
                "asn_candidate": str(candidate),
            },
            item=item,
        )

    def update_asn(self, item=None):
        self.data["constraints"] = self.constraints.describe()
        self.data["asn_id"] = self.acid.id
        self.data["target"] = self.get_target()
        if item is not None:
            if self.data["program"] == "noprogram":
                self.data["program"] = f"{str(item.get('program', 'noprogram')):0>5s}"
            if self.data["asn_pool"] == "none":
                pool_file = getattr(item, "meta", {}).get("pool_file", "none")
                self.data["asn_pool"] = Path(pool_file).name
                parsed = _DMS_POOLNAME_REGEX.search(self.data["asn_pool"].split(".")[0])
                if parsed is not None:
                    self.meta["pool_meta"] = {
                        "program_id": parsed.group(1),
                        "version": parsed.group(2),
                    }
        self.update_degraded_status()
        self.current_product["name"] = self.dms_product_name

    def _init_hook(self, item):
        self.data["asn_type"] = self.ASN_TYPE
        self.new_product()
        self.update_asn(item=item)

    def _add(self, item):
        member = self.make_member(item)
        if self.is_member(member):
            return
        self.update_validity(member)
        self.current_product["members"].append(member)
        self._remember(member)
        if member["exposerr"] is not None:
            logger.warning("member %s has exposure error %r", item["filename"], member["exposerr"])
        self.update_asn(item=item)

    def _add_items(self, items, product_name=None, with_exptype=False, acid=None, **kwargs):
        """One product holding every item, without checks (used by `asn_from_list`).

        Parameters
        ----------
        items : list of str, or of (str, str) with ``with_exptype``
            Member file names (and member types).
        product_name : str
            The product name (required).
        acid : str or None
            Candidate id written as ``asn_id``.
        """
        if not product_name:
            raise AssociationNotValidError(
                "a level 3 association needs a product name (asn_from_list --product-name)"
            )
        if acid:
            self.data["asn_id"] = str(acid)
        self.new_product(product_name)
        for item in items:
            expname, exptype = (item if with_exptype else (item, "science"))
            member = Member({"expname": expname, "exptype": exptype or "science"}, item=None)
            self.update_validity(member)
            self.current_product["members"].append(member)
        self.current_sequence = 1

    def finalize(self):
        """Candidates that must span observations need members from more than one."""
        if self.LEVEL3_SCIENCE and self.acid.type in MULTI_OBS_CANDIDATE_TYPES:
            if len(self.constraints["obs_num"].found_values) <= 1:
                return None
        return super().finalize()


# -----------------------------------------------------------------------------
# Finalisation of lists of associations
# -----------------------------------------------------------------------------
def _membership(asn):
    product = asn["products"][0]
    return frozenset((m["expname"], m["exptype"].lower()) for m in product["members"])


def prune(associations):
    """Remove duplicate associations.

    Called per rule set (level 2 and level 3 separately).

    1. Associations with the same membership (different candidate levels, or
       different rules, gathering the same exposures): the lowest-level candidate is
       kept, observation before association candidate before discovered;
       for one candidate, the association made last (by the rule tried last).
    2. Associations with the same product name where one
       membership is a subset of the other (a level 2 observation candidate
       and the background candidate that adds the background exposure): the
       larger is kept.

    The order of the remaining associations is kept.
    """
    def preference(index):
        # Among equals, the association made last is kept: for one item the
        # rules are tried in name order, so Asn_Lv3ImageMosaic wins over
        # Asn_Lv3Image, as in the established generator.
        return (candidate_sort_key(associations[index]["asn_id"]), -index)

    order = sorted(range(len(associations)), key=preference)
    kept_index = set()
    seen = set()
    for index in order:
        asn = associations[index]
        key = _membership(asn)
        if key in seen:
            logger.debug("pruned %s: same members as an association kept", asn.asn_name)
            continue
        seen.add(key)
        kept_index.add(index)
    kept = [associations[i] for i in sorted(kept_index)]

    by_product = defaultdict(list)
    for asn in kept:
        by_product[asn["products"][0]["name"]].append(asn)
    dropped = set()
    for same_name in by_product.values():
        if len(same_name) < 2:
            continue
        for asn in same_name:
            for other in same_name:
                if other is asn or id(other) in dropped:
                    continue
                if _membership(asn) < _membership(other):
                    dropped.add(id(asn))
                    logger.debug("pruned %s: its members are a subset of %s", asn.asn_name, other.asn_name)
                    break
        remaining = [asn for asn in same_name if id(asn) not in dropped]
        if len(remaining) > 1:
            logger.warning(
                "associations %s have the same product name %r but different members",
                ", ".join(asn.asn_name for asn in remaining),
                remaining[0]["products"][0]["name"],
            )
    return [asn for asn in kept if id(asn) not in dropped]


def resequence(associations):
    """Number associations ``1, 2, ...`` per candidate and type, in list order."""
    counters = defaultdict(int)
    for asn in associations:
        key = (asn["asn_id"], asn["asn_type"])
        counters[key] += 1
        asn.current_sequence = counters[key]
    return associations


def _first_index(asn):
    indexes = [getattr(item, "index", None) for item in asn.from_items]
    indexes = [index for index in indexes if index is not None]
    return min(indexes) if indexes else 0


def finalize(associations):
    """Finalise a generator's associations: per rule set, validity and pruning; then order and number.

    Associations are ordered by candidate id, type and their first pool
    row, and numbered per candidate and type in that order.
    """
    by_base = defaultdict(list)
    others = []
    for asn in associations:
        for base in (DMSLevel2bBase, DMS_Level3_Base):
            if isinstance(asn, base):
                by_base[base].append(asn)
                break
        else:
            others.append(asn)
    finalized = list(others)
    for base, members in by_base.items():
        finalized.extend(base.finalize_associations(members))
    finalized.sort(key=lambda asn: (asn["asn_id"], asn["asn_type"], _first_index(asn)))
    return resequence(finalized)


def merge_level2(associations):
    """Merge level 2 associations of one type and candidate into one with many products."""
    merged = {}
    result = []
    for asn in associations:
        if not isinstance(asn, DMSLevel2bBase):
            result.append(asn)
            continue
        key = (asn["asn_type"], asn["asn_id"])
        target = merged.get(key)
        if target is None:
            merged[key] = asn
            result.append(asn)
            continue
        for product in asn["products"]:
            for existing in target["products"]:
                if existing["name"] == product["name"]:
                    names = {m["expname"] for m in existing["members"]}
                    existing["members"].extend(
                        m for m in product["members"] if m["expname"] not in names
                    )
                    break
            else:
                target["products"].append(product)
    return resequence(result)
