"""skymatch: measure (and optionally subtract) the sky of overlapping images.

Seed 002, "SkyMatch".  Each exposure becomes a sky image (the detectors of
one exposure a sky group), :func:`photoncal.kernels.skymatch.match_sky`
computes the sky with the chosen method (``local``, ``global``, ``match``,
``global+match``), and each model records it as the established step does:
``meta.background.level`` (BKGLEVEL), ``meta.background.subtracted``
(BKGSUB), ``meta.background.method`` (BKGMETH) and ``S_SKYMAT`` COMPLETE -
or SKIPPED for an image whose sky could not be found.  ``skymethod='user'``
takes the values from ``skylist`` (a text file of ``filename sky`` lines).

With ``in_memory=False`` (or an on-disk container) only the footprints
stay in memory; pixels are read back from the files when a statistic needs
them, so memory does not grow with the number of exposures.
"""

from __future__ import annotations

import numpy as np

from photoncal.stpipe import Step

__all__ = ["SkyMatchStep"]


class SkyMatchStep(Step):
    """Compute the sky of each image, or match the skies of overlapping images."""

    class_alias = "skymatch"

    spec = """
        # General sky matching parameters:
        skymethod = option('local', 'global', 'match', 'global+match', 'user', default='match')  # sky computation method
        match_down = boolean(default=True)  # adjust sky to the lowest measured value?
        subtract = boolean(default=False)  # subtract the computed sky from the image data?
        skylist = string(default=None)  # file of (image name, sky value) pairs for skymethod='user'

        # Image's bounding polygon parameters:
        stepsize = integer(default=None)  # max vertex separation of the image outline, pixels

        # Sky statistics parameters:
        skystat = option('median', 'midpt', 'mean', 'mode', default='mode')  # sky statistic
        dqbits = string(default='~DO_NOT_USE+NON_SCIENCE')  # "good" DQ bits
        lower = float(default=None)  # lower limit of "good" pixel values
        upper = float(default=None)  # upper limit of "good" pixel values
        nclip = integer(min=0, default=5)  # number of sky clipping iterations
        lsigma = float(min=0.0, default=4.0)  # lower clipping limit, in sigma
        usigma = float(min=0.0, default=4.0)  # upper clipping limit, in sigma
        binwidth = float(min=0.0, default=0.1)  # bin width for 'mode' and 'midpt' skystat, in sigma

        # Memory management:
        in_memory = boolean(default=True)  # False: keep the images on disk, read pixels when needed
    """

    reference_file_types: list = []

    def process(self, step_input):
        from photoncal.steps._stage3 import open_container

        container = open_container(self, step_input, in_memory=self.in_memory)
        if len(container) == 0:
            raise ValueError(f"step {self.name!r}: the input holds no science image")
        if self.skymethod == "user":
            return self._user_sky(container)
        return self._match(container)

    # ------------------------------------------------------------------
    def _match(self, container):
        import warnings

        from photoncal.kernels import skymatch as sm
        from photoncal.steps._stage3 import group_ids, is_on_disk, model_name

        stat = sm.SkyStats(self.skystat, lower=self.lower, upper=self.upper, nclip=self.nclip,
                           lsigma=self.lsigma, usigma=self.usigma, binwidth=self.binwidth)
        dqbits = self.dqbits
        if isinstance(dqbits, str) and dqbits.strip().lower() in ("none", ""):
            dqbits = None
        cache = {}
        groups, index_of, levels, lazy = {}, {}, {}, {}
        gids = group_ids(container)
        for index, model in enumerate(container):
            lazy[index] = is_on_disk(container, index)
            level = self._previous_level(model)
            levels[index] = level
            # on disk, the kernel never changes pixels: the sky starts at 0 and the
            # increment is subtracted when the member is written back
            image = sm.sky_image(model.data, model.meta.wcs, dq=model.dq, dqbits=dqbits,
                                 stepsize=self.stepsize, id=model_name(model, index),
                                 sky=level if self.subtract and not lazy[index] else 0.0)
            if lazy[index]:
                image = _disk_sky_image(image, container, index, dqbits, cache)
                model.close()
            gid = gids[index]
            groups.setdefault(gid, []).append(image)
            index_of[id(image)] = index
        items = [ims[0] if len(ims) == 1 else sm.SkyGroup(ims, id=gid) for gid, ims in groups.items()]
        if "match" in self.skymethod and any(lazy.values()):
            # pairwise overlaps: read each on-disk image once, not once per pair
            for item in items:
                for image in (item.images if isinstance(item, sm.SkyGroup) else [item]):
                    if hasattr(image, "precompute"):
                        image.precompute(stat, [other for other in items if other is not item])
        self.log.info("Sky matching %d image(s) in %d group(s) with skymethod=%r, skystat=%r",
                      len(container), len(items), self.skymethod, self.skystat)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            # images read from disk are never changed by the kernel (see _record)
            subtract_in_place = self.subtract and not any(lazy.values())
            if self.subtract and any(lazy.values()) and not all(lazy.values()):
                raise ValueError("skymatch cannot subtract with a mix of on-disk and in-memory images")
            sm.match_sky(items, self.skymethod, match_down=self.match_down,
                         subtract=subtract_in_place, stat=stat)
        for w in caught:
            self.log.warning("%s", w.message)

        images = [im for it in items for im in (it.images if isinstance(it, sm.SkyGroup) else [it])]
        cache.clear()
        for image in sorted(images, key=lambda im: index_of[id(im)]):
            index = index_of[id(image)]
            self._record(container, index, image, lazy[index], levels[index])
        return container

    def _previous_level(self, model):
        """The level already subtracted (a second run with ``subtract=True``), as the established step checks."""
        background = model.meta.background
        if background.subtracted is None:
            if background.level is not None:
                raise ValueError(
                    f"{model.meta.filename}: BKGLEVEL is set but BKGSUB is not; cannot tell whether "
                    "the sky was already subtracted"
                )
            return 0.0
        if background.level is None:
            raise ValueError(f"{model.meta.filename}: BKGSUB is set but BKGLEVEL is not")
        if bool(background.subtracted) != bool(self.subtract):
            raise ValueError(
                f"{model.meta.filename}: skymatch already ran with subtract={bool(background.subtracted)}; "
                f"running it again with subtract={bool(self.subtract)} would be inconsistent"
            )
        return float(background.level)

    def _record(self, container, index, image, lazy, previous_level):
        from photoncal.steps._stage3 import store_member

        model = container[index]
        if image.is_sky_valid:
            sky = float(image.sky)
            if self.subtract and lazy:
                model.data -= np.float32(sky)
                sky += previous_level
            model.meta.background.level = sky
            model.meta.background.subtracted = bool(self.subtract)
            model.meta.background.method = str(self.skymethod)
            self.log.info("%s: sky = %.6g%s", image.id, sky, " (subtracted)" if self.subtract else "")
            status = "COMPLETE"
        else:
            self.log.warning("%s: no sky value could be computed; S_SKYMAT = SKIPPED", image.id)
            status = "SKIPPED"
        self.record_status(model, status)
        store_member(container, index, model)

    # ------------------------------------------------------------------
    def _user_sky(self, container):
        import os

        from photoncal.steps._stage3 import store_member
        from photoncal.stpipe.naming import remove_suffix

        if not self.skylist:
            raise ValueError(f"step {self.name!r}: skymethod='user' needs a skylist file")
        path = self.make_input_path(self.skylist)
        values = {}
        try:
            with open(path) as handle:
                for number, line in enumerate(handle, 1):
                    line = line.split("#", 1)[0].strip()
                    if not line:
                        continue
                    parts = line.replace(",", " ").split()
                    if len(parts) != 2:
                        raise ValueError(f"skylist {path}, line {number}: expected 'image_name sky_value', "
                                         f"got {line!r}")
                    stem = remove_suffix(os.path.splitext(os.path.basename(parts[0]))[0])[0]
                    if stem in values:
                        raise ValueError(f"skylist {path}: image {stem!r} is listed twice")
                    values[stem] = float(parts[1])
        except OSError as err:
            raise ValueError(f"step {self.name!r}: cannot read skylist {path}: {err}") from None
        if len(values) != len(container):
            raise ValueError(f"skylist {path} has {len(values)} entries for {len(container)} images")
        for index, model in enumerate(container):
            stem = remove_suffix(os.path.splitext(os.path.basename(model.meta.filename or ""))[0])[0]
            if stem not in values:
                raise ValueError(f"skylist {path}: no sky value for image {stem!r}")
            sky = values[stem]
            model.meta.background.level = sky
            model.meta.background.subtracted = bool(self.subtract)
            model.meta.background.method = "user"
            if self.subtract:
                model.data -= np.float32(sky)
            self.record_status(model, "COMPLETE")
            store_member(container, index, model)
        return container


def _disk_sky_image(image, container, index, dqbits, cache):
    """``image`` as a SkyImage whose pixels are read from its container member when needed."""
    from photoncal.kernels.skymatch import SkyImage, good_pixel_mask

    class DiskSkyImage(SkyImage):
        # The kernel reads ``data`` and ``mask``; here they come from the
        # file, through a cache of the two most recently read members.

        def _load(self):
            key = self._index
            if key not in self._cache:
                model = self._container[key]
                data = np.array(model.data, dtype=np.float32)
                mask = np.isfinite(data) & good_pixel_mask(model.dq, self._dqbits)
                model.close()
                if len(self._cache) >= 2:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = (data, mask)
            return self._cache[key]

        @property
        def data(self):
            return self._load()[0] if hasattr(self, "_container") else None

        @data.setter
        def data(self, value):
            pass  # the pixels live in the file

        @property
        def mask(self):
            return self._load()[1] if hasattr(self, "_container") else None

        @mask.setter
        def mask(self, value):
            pass

        def precompute(self, stat, others):
            """The statistics in the overlap with each of ``others``, from one read of the pixels."""
            self._precomputed = {}
            for other in others:
                self._precomputed[id(other)] = SkyImage.calc_sky(self, stat, other, delta=False)

        def calc_sky(self, stat, overlap=None, delta=True):
            known = getattr(self, "_precomputed", {}).get(id(overlap)) if overlap is not None else None
            if known is None:
                return SkyImage.calc_sky(self, stat, overlap, delta)
            value, npix, area = known
            if value is not None and delta:
                value -= self.sky
            return value, npix, area

    out = DiskSkyImage(data=None, mask=None, wcs_inverse=image.wcs_inverse, polygon=image.polygon,
                       pixel_scale_deg=image.pixel_scale_deg, id=image.id, sky=image.sky,
                       is_sky_valid=image.is_sky_valid)
    out._container, out._index, out._dqbits, out._cache = container, index, dqbits, cache
    return out
