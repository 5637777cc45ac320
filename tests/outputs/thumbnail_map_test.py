"""tfelg.outputs.thumbnail_map: the grid layout, colours kept on the map, the class panels.

Stamps are round Gaussian galaxies in nJy per pixel with the synthetic
sample's sky noise and AB colours: blue ones like its irregulars
(F435W-F850LP = 1.6, F850LP-F160W = 0.7), red ones like its ellipticals
(4.9, 1.1).
"""

import os

import numpy as np
from absl.testing import absltest
from PIL import Image

from tfelg import schemes
from tfelg.outputs import colours, hst_plots, sprites, thumbnail_map
from tfelg.synthetic import hst_galaxies as hst

SKY = np.array([hst.sky_sigma_njy(b) for b in hst.BANDS])
BLUE = (1.6, 0.7)
RED = (4.9, 1.1)


def _stamps(colour_list, *, z_njy=4000.0, seed=0, size=32):
    """Round Gaussian galaxies (sigma 3 pixels), one per (F435W-F850LP, F850LP-F160W)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2.0
    profile = np.exp(-0.5 * (x**2 + y**2) / 9.0) / (2 * np.pi * 9.0)
    out = []
    for b_z, z_h in colour_list:
        flux = np.array([z_njy * 10 ** (-0.4 * b_z), z_njy, z_njy * 10 ** (0.4 * z_h)])
        image = profile[..., None] * flux + rng.normal(size=(size, size, 3)) * SKY
        out.append(image)
    return np.asarray(out, np.float32)


class GridLayoutTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(3)
        # Two blobs and a thin line: occupied and empty cells, an elongated map.
        self.xy = np.concatenate(
            [
                rng.normal([0, 0], 1.0, size=(300, 2)),
                rng.normal([8, 2], 0.5, size=(150, 2)),
                np.c_[np.linspace(-3, 11, 50), np.full(50, -2.0)],
            ]
        )

    def test_one_galaxy_per_occupied_cell_nearest_the_centre(self):
        r = 12
        layout = thumbnail_map.grid_layout(self.xy, r)
        self.assertLessEqual(len(layout.rows), r * r)
        cells = [tuple(c) for c in layout.cells]
        self.assertLen(set(cells), len(cells), "two thumbnails in one cell")
        # Every occupied cell is shown, by the galaxy nearest its centre.
        index = np.floor((self.xy - layout.origin) / layout.cell_size).astype(int)
        index = np.clip(index, 0, np.asarray(layout.shape) - 1)
        occupied = {tuple(c) for c in index}
        self.assertEqual(set(cells), occupied)
        for row, (col, cell_row) in zip(layout.rows, layout.cells, strict=True):
            np.testing.assert_array_equal(index[row], (col, cell_row))
            members = np.flatnonzero((index[:, 0] == col) & (index[:, 1] == cell_row))
            centre = (
                np.asarray(layout.origin) + (np.array([col, cell_row]) + 0.5) * layout.cell_size
            )
            distance = np.sum((self.xy[members] - centre) ** 2, axis=1)
            self.assertEqual(row, members[np.argmin(distance)])
        # R square cells along the longer side (x here), as many as needed
        # along the other; the map lies inside the grid.
        left, right, bottom, top = layout.extent
        span = self.xy.max(0) - self.xy.min(0)
        self.assertEqual(layout.shape, (r, int(np.ceil(span[1] / span[0] * r))))
        self.assertAlmostEqual(right - left, r * layout.cell_size)
        self.assertAlmostEqual(top - bottom, layout.shape[1] * layout.cell_size)
        self.assertTrue(np.all(self.xy >= [left, bottom]) and np.all(self.xy <= [right, top]))

    def test_deterministic_and_independent_of_row_order(self):
        a = thumbnail_map.grid_layout(self.xy, 10)
        b = thumbnail_map.grid_layout(self.xy.copy(), 10)
        np.testing.assert_array_equal(a.rows, b.rows)
        perm = np.random.default_rng(0).permutation(len(self.xy))
        c = thumbnail_map.grid_layout(self.xy[perm], 10)
        self.assertEqual(set(perm[c.rows]), set(a.rows))

    def test_ties_go_to_the_lower_row_and_a_single_point_works(self):
        xy = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
        layout = thumbnail_map.grid_layout(xy, 1)
        np.testing.assert_array_equal(layout.rows, [0])  # both 0 and 1 are at the centre
        layout = thumbnail_map.grid_layout(np.zeros((3, 2)), 5)
        np.testing.assert_array_equal(layout.rows, [0])

    def test_bad_input_is_named(self):
        xy = self.xy.copy()
        xy[7, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "row 7"):
            thumbnail_map.grid_layout(xy, 5)
        with self.assertRaisesRegex(ValueError, r"\(N, 2\)"):
            thumbnail_map.grid_layout(np.zeros((5, 3)), 5)
        with self.assertRaisesRegex(ValueError, "grid_size"):
            thumbnail_map.grid_layout(self.xy, 0)


class ThumbnailMapTest(absltest.TestCase):
    def test_blue_galaxy_stays_blue_where_it_is_on_the_map(self):
        # 3 x 3 grid, a galaxy at each cell centre; the blue one in column 2, row 0.
        cols, rows = np.meshgrid(np.arange(3), np.arange(3))
        xy = np.c_[cols.ravel(), rows.ravel()].astype(float)
        blue = 2  # (col 2, row 0): the lower right corner
        stamps = _stamps([BLUE if i == blue else RED for i in range(9)], size=32)
        path = os.path.join(self.create_tempdir().full_path, "map.png")
        kwargs = dict(grid_size=3, thumb_pixels=None)
        thumbnail_map.plot_thumbnail_map(xy, stamps, path, **kwargs)
        png = np.asarray(Image.open(path).convert("RGB")).astype(float)
        h, w, _ = png.shape
        # Where the map's axes are in the PNG: from the same figure, not written.
        box = thumbnail_map.plot_thumbnail_map(xy, stamps, **kwargs).axes[0].get_position()
        x0, x1 = box.x0 * w, box.x1 * w
        y_top, y_bottom = (1 - box.y1) * h, (1 - box.y0) * h
        cell_w, cell_h = (x1 - x0) / 3, (y_bottom - y_top) / 3

        def cell_rgb(col, row):
            cx = x0 + (col + 0.5) * cell_w
            cy = y_bottom - (row + 0.5) * cell_h
            patch = png[int(cy) - 3 : int(cy) + 3, int(cx) - 3 : int(cx) + 3]
            return patch.reshape(-1, 3).mean(0)

        r, _, b = cell_rgb(2, 0)
        self.assertGreater(b, 2 * r, f"the blue galaxy's cell is not blue: {cell_rgb(2, 0)}")
        for col, row in ((0, 0), (1, 1), (2, 2), (0, 2)):
            r, _, b = cell_rgb(col, row)
            self.assertGreater(r, 2 * b, f"red galaxy at cell {(col, row)} is not red")
        # The background between thumbnails is black.
        self.assertLess(png[2, w // 2].sum(), 30)

    def test_display_rgb_stamps_are_drawn_as_given(self):
        stamps = np.zeros((2, 8, 8, 3), np.float32)
        stamps[0, ..., 0] = 1.0  # F435W slot = blue channel of a display image
        stamps[1, ..., 2] = 0.5  # F160W slot = red
        rgb = sprites.galaxy_thumbnails(stamps, calibrated=False)
        np.testing.assert_array_equal(rgb[0, 0, 0], [0, 0, 255])
        np.testing.assert_array_equal(rgb[1, 0, 0], [128, 0, 0])
        uint8 = np.full((2, 8, 8, 3), 7, np.uint8)
        self.assertIs(sprites.galaxy_thumbnails(uint8), uint8)
        with self.assertRaisesRegex(ValueError, "0-1"):
            sprites.galaxy_thumbnails(stamps * 300, calibrated=False)
        stamps[1, 3, 3, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "image 1"):
            sprites.galaxy_thumbnails(stamps, calibrated=False)

    def test_canvas_places_and_flips_each_thumbnail(self):
        layout = thumbnail_map.grid_layout(np.array([[0.0, 0.0], [1.0, 1.0]]), 2)
        thumbs = np.zeros((2, 4, 4, 3), np.uint8)
        thumbs[0, 0] = 200  # the bottom row of the sky of galaxy 0
        thumbs[1] = 90
        canvas = thumbnail_map.thumbnail_canvas(layout, thumbs, gap=0)
        self.assertEqual(canvas.shape, (8, 8, 3))
        self.assertEqual(canvas[7, 0, 0], 200, "galaxy 0 (lower left) drawn upside down")
        self.assertEqual(canvas[4, 0, 0], 0)
        self.assertTrue(np.all(canvas[:4, 4:] == 90))
        self.assertTrue(np.all(canvas[:4, :4] == 0), "an empty cell is not black")
        with self.assertRaisesRegex(ValueError, "3 thumbnails for 2"):
            thumbnail_map.thumbnail_canvas(layout, np.zeros((3, 4, 4, 3), np.uint8))

    def test_crop_shows_the_central_pixels(self):
        # uint8 RGB stamps: a green centre (16 x 16) in a magenta frame.
        stamps = np.zeros((4, 32, 32, 3), np.uint8)
        stamps[:] = (255, 0, 255)
        stamps[:, 8:24, 8:24] = (0, 255, 0)
        xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        d = self.create_tempdir().full_path

        def colours(**kwargs):
            path = thumbnail_map.plot_thumbnail_map(xy, stamps, f"{d}/m.png", grid_size=2, **kwargs)
            png = np.asarray(Image.open(path).convert("RGB")).astype(int)
            magenta = np.sum((png[..., 0] > 200) & (png[..., 1] < 60) & (png[..., 2] > 200))
            green = np.sum((png[..., 1] > 200) & (png[..., 0] < 60) & (png[..., 2] < 60))
            return magenta, green

        magenta, green = colours(thumb_pixels=None)
        self.assertGreater(magenta, 4 * 500)
        self.assertGreater(green, 4 * 200)
        magenta, green = colours(thumb_pixels=None, crop=16)
        self.assertEqual(magenta, 0)
        self.assertGreater(green, 4 * 150)
        with self.assertRaisesRegex(ValueError, "crop"):
            thumbnail_map.plot_thumbnail_map(xy, stamps, grid_size=2, crop=40)

    def test_images_must_match_the_map(self):
        with self.assertRaisesRegex(ValueError, "N = 4"):
            thumbnail_map.plot_thumbnail_map(np.zeros((4, 2)), np.zeros((3, 8, 8, 3)))


class ClassPanelsTest(absltest.TestCase):
    def test_panels_use_the_project_colours(self):
        rng = np.random.default_rng(1)
        xy = rng.normal(size=(60, 2))
        types = np.arange(60) % 3
        uvj = (np.arange(60) % 2).astype(np.int8)
        fig = thumbnail_map.plot_map_by_labels(
            xy,
            {
                "true type": (types, ("elliptical", "late_spiral", "irregular")),
                "UVJ": (uvj, schemes.UVJ_NAMES),
            },
            clusters=np.arange(60) % 4,
        )
        axes = [ax for ax in fig.axes if ax.collections]  # the panels, not their legends
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        self.assertLen(axes, 3)
        self.assertLen(legends, 3)
        legend = [t.get_text() for t in legends[0].get_texts()]
        self.assertEqual(legend, ["elliptical (20)", "late_spiral (20)", "irregular (20)"])
        face = {tuple(np.round(c[:3], 3)) for c in axes[1].collections[0].get_facecolors()}
        from matplotlib.colors import to_rgb

        expected = {
            tuple(np.round(to_rgb(colours.class_colour(n)), 3))
            for n in ("quiescent", "star_forming")
        }
        self.assertEqual(face, expected)
        self.assertEqual(
            thumbnail_map.class_palette(("elliptical", "merger")),
            [hst_plots.TYPE_COLOURS["elliptical"], hst_plots.TYPE_COLOURS["merger"]],
        )
        with self.assertRaisesRegex(ValueError, "UVJ"):
            thumbnail_map.plot_map_by_labels(xy, {"UVJ": (uvj[:-1], schemes.UVJ_NAMES)})

    def test_uvj_by_cluster_on_labelled_data(self):
        rng = np.random.default_rng(2)
        n = 80
        quiet = np.arange(n) < 30
        uv = np.where(quiet, rng.uniform(1.7, 2.1, n), rng.uniform(0.4, 1.1, n))
        vj = np.where(quiet, rng.uniform(0.6, 1.2, n), rng.uniform(0.2, 1.8, n))
        z = rng.uniform(0.1, 0.9, n)
        clusters = np.where(quiet, 1, 0)
        uv[5] = np.nan
        fig = thumbnail_map.plot_uvj_by_cluster(uv, vj, z, clusters)
        ax = fig.axes[0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        self.assertEqual(legend, ["cluster 0 (50; 0% quiescent)", "cluster 1 (29; 100% quiescent)"])
        self.assertIn("1 without colours", ax.get_title())
        path = os.path.join(self.create_tempdir().full_path, "uvj.png")
        self.assertEqual(thumbnail_map.plot_uvj_by_cluster(uv, vj, z, clusters, path), path)
        self.assertGreater(os.path.getsize(path), 1000)
        with self.assertRaisesRegex(ValueError, "clusters has 79 values"):
            thumbnail_map.plot_uvj_by_cluster(uv, vj, z, clusters[:-1])


if __name__ == "__main__":
    absltest.main()
