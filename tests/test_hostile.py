"""Hostile and malformed uploads: each is built here, in tmp_path, and must end in one clear bilingual
LayerError (naming the file, and the row and field where one applies) or a valid layer with a
warning; never another exception, never a hang, never a file written outside the reader's own
temporary folder and never a network access."""

from __future__ import annotations

import io
import json
import re
import struct
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely

from layers import limits
from layers.crs import probable_crs, resolve_bounds_crs
from layers.errors import CRSError, LayerError
from layers.load import load_layer
from layers.raster import read_raster
from layers.readers import read_vector

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _bilingual(err: LayerError, name: str) -> None:
    """The message has a Chinese and an English part, each naming the file, each with a fix."""
    zh, en = err.value.lines("zh"), err.value.lines("en")
    assert zh and en
    assert name in zh[0] and CHINESE.search(zh[0].replace(name, "")) and "处理：" in zh[0]
    assert name in en[0] and re.search(r"[a-z]+ [a-z]+ [a-z]+", en[0]) and ". Fix: " in en[0]


def _water(n: int = 2) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": [f"水源{i}" for i in range(n)], "类型": ["水库"] * n, "蓄水量": [1000.0] * n},
        geometry=[shapely.Point(119.6 + i * 0.01, 28.3) for i in range(n)], crs="EPSG:4490")


def _shapefile_parts(tmp_path: Path) -> dict[str, bytes]:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(_water(), folder / "水源.shp", encoding="UTF-8")
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


# ---- size limit ------------------------------------------------------------------------------

def test_upload_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_UPLOAD_MB", 1)
    path = tmp_path / "upload_1.csv"
    path.write_bytes(b"\xff" * (1024 * 1024 + 1))      # unreadable: only the size check can answer
    with pytest.raises(LayerError, match="上传上限 1 MB") as err:
        load_layer(path, "water_sources", display_name="大表.csv")
    _bilingual(err, "大表.csv")
    assert "upload limit is 1 MB" in str(err.value)


# ---- zip archives ----------------------------------------------------------------------------

def test_zip_bomb_refused_from_the_central_directory(tmp_path):
    parts = _shapefile_parts(tmp_path)
    bomb = b" " * (20 * 1024 * 1024)                   # deflates about 1000 times
    z = _zip(tmp_path / "u.zip", {"水源.shp": parts[".shp"], "水源.shx": parts[".shx"], "水源.dbf": bomb})
    assert z.stat().st_size < 100_000
    t0 = time.perf_counter()
    with pytest.raises(LayerError, match="压缩炸弹") as err:
        load_layer(z, "water_sources", display_name="炸弹.zip")
    assert time.perf_counter() - t0 < 1.0               # nothing was unpacked
    _bilingual(err, "炸弹.zip")
    assert "zip bomb" in str(err.value) and "水源.dbf" in str(err.value)


def test_padded_dbf_is_not_mistaken_for_a_bomb(tmp_path):
    """Desktop GIS pads text fields to 254 characters: such a .dbf deflates ~270 times and must pass."""
    import random

    rng = random.Random(0)
    record = lambda: b" " + f"G{rng.randrange(10 ** 6):06d}".encode().ljust(254) + b" " * 254 * 9  # noqa: E731
    z = _zip(tmp_path / "u.zip", {"grids.dbf": b"".join(record() for _ in range(5000))})
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("grids.dbf")
        assert info.file_size > limits.RATIO_FLOOR_BYTES and 200 < info.file_size / info.compress_size < 400
        limits.check_zip(zf, "u.zip")                   # no error


def test_zip_declaring_more_than_the_unpacked_limit_refused(tmp_path, monkeypatch):
    parts = _shapefile_parts(tmp_path)
    monkeypatch.setattr(limits, "MAX_UNZIPPED_BYTES", 200)
    z = _zip(tmp_path / "u.zip", {f"水源{k}": v for k, v in parts.items()})
    with pytest.raises(LayerError, match="解压后共") as err:
        read_vector(z, display_name="水源.zip")
    _bilingual(err, "水源.zip")


def _lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite the uncompressed size of ``member`` in its local header and the central directory."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for sig, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            n = struct.unpack_from("<H", data, i + name_len_at)[0]
            if bytes(data[i + name_at: i + name_at + n]) == name:
                struct.pack_into("<I", data, i + size_at, declared)
            start = i + 4
    path.write_bytes(bytes(data))


def test_zip_lying_about_unpacked_size_stopped_while_unpacking(tmp_path):
    parts = _shapefile_parts(tmp_path)
    z = _zip(tmp_path / "u.zip", {"a.shp": parts[".shp"], "a.shx": parts[".shx"],
                                  "a.dbf": parts[".dbf"] + b" " * (4 * 1024 * 1024)})
    _lie_about_size(z, "a.dbf", 100)                   # claims 100 bytes, inflates to 4 MB
    with zipfile.ZipFile(z) as zf:
        assert zf.getinfo("a.dbf").file_size == 100
    with pytest.raises(LayerError) as err:
        read_vector(z, display_name="说谎.zip")
    _bilingual(err, "说谎.zip")


def test_copy_member_stops_at_the_byte_budget(tmp_path):
    z = _zip(tmp_path / "u.zip", {"big.bin": b"x" * 300_000})
    out = io.BytesIO()
    with zipfile.ZipFile(z) as zf, pytest.raises(LayerError, match="压缩炸弹") as err:
        limits.copy_member(zf, zf.getinfo("big.bin"), out, "u.zip", budget=100_000)
    assert out.tell() <= 100_000                       # never more than the budget was written
    _bilingual(err, "u.zip")


@pytest.mark.parametrize("evil", ["../../etc/cron.d/x.shp", "/tmp/abs.shp", "C:/Windows/x.shp",
                                  "a/../../x.shp", "..\\..\\x.shp"])
def test_zip_member_escaping_the_folder_refuses_the_archive(tmp_path, evil):
    parts = _shapefile_parts(tmp_path)
    z = _zip(tmp_path / "u.zip", {"水源.shp": parts[".shp"], "水源.shx": parts[".shx"], "水源.dbf": parts[".dbf"],
                                  evil: b"owned"})
    with pytest.raises(LayerError, match="路径不安全") as err:
        read_vector(z, display_name="越界.zip")
    _bilingual(err, "越界.zip")
    assert not Path("/tmp/abs.shp").exists()


def test_zip_symlink_member_refuses_the_archive(tmp_path):
    parts = _shapefile_parts(tmp_path)
    z = tmp_path / "u.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for ext in (".shp", ".shx"):
            zf.writestr(f"水源{ext}", parts[ext])
        link = zipfile.ZipInfo("水源.dbf")
        link.create_system = 3
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(LayerError, match="符号链接") as err:
        read_vector(z, display_name="链接.zip")
    _bilingual(err, "链接.zip")
    assert "symbolic link" in str(err.value)


def test_zip_with_too_many_members_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ZIP_MEMBERS", 10)
    z = _zip(tmp_path / "u.zip", {f"f{i}.txt": b"x" for i in range(11)})
    with pytest.raises(LayerError, match="11 个文件") as err:
        read_vector(z, display_name="多.zip")
    _bilingual(err, "多.zip")


def test_kmz_bomb_refused(tmp_path):
    kmz = _zip(tmp_path / "u.kmz", {"doc.kml": b"<kml>" + b" " * (20 * 1024 * 1024) + b"</kml>"})
    with pytest.raises(LayerError, match="压缩炸弹") as err:
        read_vector(kmz, display_name="炸弹.kmz")
    _bilingual(err, "炸弹.kmz")


def test_xlsx_bomb_refused_before_openpyxl(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["名称", "经度", "纬度"])
    buf = io.BytesIO()
    wb.save(buf)
    path = tmp_path / "u.xlsx"
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", b"<!--" + b" " * (20 * 1024 * 1024) + b"--></worksheet>")
            dst.writestr(info.filename, data)
    with pytest.raises(LayerError, match="压缩炸弹") as err:
        read_vector(path, display_name="炸弹.xlsx")
    _bilingual(err, "炸弹.xlsx")


def test_xlsx_with_entity_expansion_refused_quickly(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["名称", "经度", "纬度", "类型"])
    wb.active.append(["a", 119.6, 28.3, "水库"])
    buf = io.BytesIO()
    wb.save(buf)
    ent = '<!ENTITY e0 "lol">' + "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    path = tmp_path / "lol.xlsx"
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                data = f'<?xml version="1.0"?><!DOCTYPE worksheet [{ent}]>'.encode() + body.replace(
                    b"<t>a</t>", b"<t>&e9;</t>")                    # a billion "lol"s
            dst.writestr(info.filename, data)
    t0 = time.perf_counter()
    with pytest.raises(LayerError, match="Excel") as err:
        load_layer(path, "water_sources", display_name="实体.xlsx")
    assert time.perf_counter() - t0 < 5
    _bilingual(err, "实体.xlsx")


# ---- shapefile parts -------------------------------------------------------------------------

@pytest.mark.parametrize("missing", [".shx", ".dbf"])
def test_zipped_shapefile_missing_a_part_names_it(tmp_path, missing):
    parts = _shapefile_parts(tmp_path)
    z = _zip(tmp_path / "u.zip", {f"水源{ext}": data for ext, data in parts.items() if ext != missing})
    with pytest.raises(LayerError) as err:
        load_layer(z, "water_sources", display_name="水源.zip")
    (p,) = err.value.problems
    assert missing in p.zh and missing in p.en and p.file == "水源.zip/水源.shp"
    _bilingual(err, "水源.zip")


def test_bare_shapefile_missing_both_parts(tmp_path):
    parts = _shapefile_parts(tmp_path)
    shp = tmp_path / "only" / "水源.shp"
    shp.parent.mkdir()
    shp.write_bytes(parts[".shp"])
    with pytest.raises(LayerError) as err:
        read_vector(shp)
    assert [(".shx" in p.en, ".dbf" in p.en) for p in err.value.problems] == [(True, False), (False, True)]
    _bilingual(err, "水源.shp")


# ---- disguised formats (never handed to a GDAL driver the name did not promise) ------------------

@pytest.mark.parametrize("name", ["x.gpkg", "x.geojson", "x.shp"])
def test_vrt_disguised_as_vector_refused(tmp_path, name):
    vrt = (b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/vsicurl/http://example.invalid/x.csv'
           b'</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>')
    path = tmp_path / name
    path.write_bytes(vrt)
    with pytest.raises(LayerError, match="文件内容不是") as err:
        read_vector(path)
    _bilingual(err, name)


def test_vrt_disguised_as_geotiff_refused(tmp_path):
    path = tmp_path / "x.tif"
    path.write_bytes(b'<VRTDataset rasterXSize="10" rasterYSize="10"><VRTRasterBand dataType="Byte" band="1">'
                     b'<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource>'
                     b'</VRTRasterBand></VRTDataset>')
    with pytest.raises(LayerError, match="不是 GeoTIFF") as err:
        load_layer(path, "dem", display_name="高程.tif")
    _bilingual(err, "高程.tif")


# ---- GeoTIFF of absurd dimensions ------------------------------------------------------------

def _tiff_header(width: int, height: int) -> bytes:
    """A 1-strip uint8 GeoTIFF header (pixel scale + tie point) claiming width x height cells."""
    entries = [  # (tag, type, count, value) ; types 3 SHORT, 4 LONG, 12 DOUBLE (offset filled below)
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 1), (33550, 12, 3, None),
        (33922, 12, 6, None)]
    ifd_at = 8
    extra_at = ifd_at + 2 + 12 * len(entries) + 4
    doubles = {33550: struct.pack("<3d", 30.0, 30.0, 0.0),
               33922: struct.pack("<6d", 0, 0, 0, 40_500_000.0, 3_300_000.0, 0)}
    extra, offsets = b"", {}
    for tag in (33550, 33922):
        offsets[tag] = extra_at + len(extra)
        extra += doubles[tag]
    data_at = extra_at + len(extra)
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_at
        if typ == 12:
            ifd += struct.pack("<HHII", tag, typ, count, offsets[tag])
        elif typ == 3:
            ifd += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_at) + ifd + extra + b"\x00"


def test_geotiff_claiming_a_million_by_a_million_cells_refused_from_its_header(tmp_path):
    path = tmp_path / "upload.tif"
    path.write_bytes(_tiff_header(1_000_000, 1_000_000))
    assert path.stat().st_size < 1000
    t0 = time.perf_counter()
    with pytest.raises(LayerError, match="栅格过大") as err:
        load_layer(path, "dem", display_name="巨大.tif")
    assert time.perf_counter() - t0 < 2.0
    _bilingual(err, "巨大.tif")
    assert "1,000,000,000,000 cells" in str(err.value)


def test_compressed_geotiff_too_big_in_memory_refused_before_reading(tmp_path, monkeypatch):
    import numpy as np
    import rasterio
    from affine import Affine

    path = tmp_path / "z.tif"
    with rasterio.open(path, "w", driver="GTiff", width=512, height=512, count=1, dtype="float64",
                       crs="EPSG:4549", transform=Affine(30, 0, 500_000, 0, -30, 3_130_000), compress="deflate",
                       tiled=True) as dst:
        dst.write(np.zeros((512, 512)), 1)
    assert path.stat().st_size < 50_000                        # 2 MB of cells in a few KB
    monkeypatch.setattr(limits, "MAX_RASTER_BYTES", 1024 ** 2)
    with pytest.raises(LayerError, match="内存") as err:
        load_layer(path, "dem", display_name="压缩.tif")
    _bilingual(err, "压缩.tif")
    assert "float64" in str(err.value)


def test_complex_valued_geotiff_refused(tmp_path):
    import numpy as np
    import rasterio
    from affine import Affine

    path = tmp_path / "c.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="complex64", crs="EPSG:4549",
                       transform=Affine(30, 0, 500_000, 0, -30, 3_130_000)) as dst:
        dst.write(np.ones((4, 4), dtype="complex64"), 1)
    with pytest.raises(LayerError, match="复数") as err:
        load_layer(path, "dem", display_name="复数.tif")
    _bilingual(err, "复数.tif")


def test_small_handmade_geotiff_header_reads(tmp_path):
    """The same hand-made header with sane dimensions is a valid (tiny) raster: the test file is real."""
    path = tmp_path / "ok.tif"
    path.write_bytes(_tiff_header(1, 1))
    r = read_raster(path, display_name="ok.tif")
    assert r.shape == (1, 1) and r.res == (30.0, 30.0)
    assert r.crs.to_epsg() == 4528                     # zone-40 prefixed easting


# ---- CSV with a million rows of garbage -------------------------------------------------------

def test_csv_with_a_million_rows_of_garbage_refused_fast(tmp_path):
    path = tmp_path / "g.csv"
    row = b"\xe5\x9e\x83\xe5\x9c\xbe,12abc,%%%\n"
    path.write_bytes("名称,经度,纬度\n".encode() + row * 1_000_000)
    t0 = time.perf_counter()
    with pytest.raises(LayerError, match="200,000 行") as err:
        load_layer(path, "water_sources", display_name="垃圾.csv")
    assert time.perf_counter() - t0 < 10
    _bilingual(err, "垃圾.csv")


def test_garbage_coordinates_listing_capped_and_fast(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TABLE_ROWS", 2_000_000)   # let the rows through to parsing
    path = tmp_path / "g.csv"
    path.write_bytes(b"name,lon,lat\n" + b"x,12abc,%%%\n" * 300_000)
    t0 = time.perf_counter()
    with pytest.raises(LayerError) as err:
        load_layer(path, "water_sources", display_name="垃圾.csv")
    assert time.perf_counter() - t0 < 10
    problems = err.value.problems
    assert len(problems) == limits.MAX_PROBLEMS + 1
    assert "检查在第 102 行停止" in problems[0].zh and "299,900 more rows not checked" in problems[0].en
    assert (problems[1].row, problems[1].field) == (2, "lon") and "12abc" in problems[1].en
    assert "... and 151 more problems" in str(err.value)


def test_stray_cell_far_to_the_right_refused_before_building_the_table(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("名称,经度,纬度,类型\n甲,119.6,28.3,水库\n乙,119.7,28.4,水库" + "," * 20_000 + "x\n",
                    encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(LayerError, match="20,004 列") as err:
        load_layer(path, "water_sources", display_name="宽.csv")
    assert time.perf_counter() - t0 < 2
    (p,) = err.value.problems
    assert p.row == 3
    _bilingual(err, "宽.csv")
    path.write_text("名称,经度,纬度,类型\n甲,119.6,28.3,水库" + "," * 20_000 + "\n", encoding="utf-8")
    assert load_layer(path, "water_sources").count == 1   # empty trailing cells are no columns


def test_table_too_big_as_rows_times_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TABLE_CELLS", 100)
    path = tmp_path / "c.csv"
    path.write_text("名称,经度,纬度,类型\n" + "甲,119.6,28.3,水库\n" * 30, encoding="utf-8")
    with pytest.raises(LayerError, match="30 行 × 4 列") as err:
        load_layer(path, "water_sources", display_name="大.csv")
    _bilingual(err, "大.csv")


# ---- Excel: formulas and merged header cells --------------------------------------------------

def test_xlsx_with_too_many_rows_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TABLE_ROWS", 1000)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("点")
    ws.append(["名称", "经度", "纬度"])
    for i in range(1100):
        ws.append([f"p{i}", "x", "y"])
    path = tmp_path / "big.xlsx"
    wb.save(path)
    with pytest.raises(LayerError, match="1,000 行") as err:
        load_layer(path, "water_sources", display_name="大.xlsx")
    _bilingual(err, "大.xlsx")


def _cache_formula_values(path: Path, values: dict[str, str]) -> None:
    """Give formula cells a saved result, as Excel/WPS do on save (openpyxl writes none)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for ref, v in values.items():
                    text = re.sub(rf'(<c r="{ref}"[^>]*>)(<f>[^<]*</f>)<v\s*/>', rf"\1\2<v>{v}</v>", text)
                data = text.encode()
            dst.writestr(info, data)
    path.write_bytes(buf.getvalue())


def test_excel_formulas_use_saved_values_and_report_unsaved_ones(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度", "类型", "蓄水量"])
    ws.append(["甲", "=119+0.5", 28.3, "水库", "=1000*2"])
    ws.append(["乙", 119.6, "=28+0.25", "水库", 500])
    path = tmp_path / "f.xlsx"
    wb.save(path)
    _cache_formula_values(path, {"B2": "119.5", "C3": "28.25", "E2": "2000"})
    layer = load_layer(path, "water_sources", display_name="公式.xlsx")
    assert [(g.x, g.y) for g in layer.gdf.geometry] == [(119.5, 28.3), (119.6, 28.25)]
    assert layer.gdf["volume"].tolist() == [2000.0, 500.0]
    assert not any("公式" in zh for zh, _ in layer.notes)

    wb.save(path)                                        # coordinates calculated, the volume formula not
    _cache_formula_values(path, {"B2": "119.5", "C3": "28.25"})
    layer = load_layer(path, "water_sources", display_name="公式.xlsx")
    assert layer.gdf["volume"].isna().tolist() == [True, False]
    assert any("“蓄水量”列有 1 个公式没有保存计算结果（第 2 行）" in zh and "formula cell(s) in '蓄水量'" in en
               for zh, en in layer.notes)

    wb.save(path)                                        # the same workbook, never calculated
    with pytest.raises(LayerError, match="公式") as err:
        load_layer(path, "water_sources", display_name="公式.xlsx")
    assert [(p.row, p.field) for p in err.value.problems] == [(2, "经度"), (3, "纬度")]
    _bilingual(err, "公式.xlsx")
    assert "=119+0.5" in err.value.problems[0].en


def test_excel_merged_header_cells(tmp_path):
    """名称 merged over two rows, 坐标 merged over 经度 | 纬度, a title merged across the top."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "某县水源点登记表"
    ws.merge_cells("A1:E1")
    ws["A2"], ws["B2"], ws["D2"], ws["E2"] = "名称", "坐标", "类型", "蓄水量"
    ws["B3"], ws["C3"] = "经度", "纬度"
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:D3")
    ws.merge_cells("E2:E3")
    ws.append(["东山水库", 119.61, 28.31, "水库", 12000])
    ws.append(["坝塘一号", 119.62, 28.32, "坝塘", 800])
    path = tmp_path / "m.xlsx"
    wb.save(path)
    layer = load_layer(path, "water_sources", display_name="合并.xlsx")
    assert layer.gdf["name"].tolist() == ["东山水库", "坝塘一号"]
    assert layer.gdf["volume"].tolist() == [12000.0, 800.0]
    assert layer.gdf["_row"].tolist() == [4, 5] if "_row" in layer.gdf else True
    assert any("表头占两行" in zh and "two-row header" in en for zh, en in layer.notes)


# ---- KML with network links ------------------------------------------------------------------

_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
  <NetworkLink><name>远程</name><Link><href>http://127.0.0.1:9/evil.kml</href></Link></NetworkLink>
  {placemarks}
</Document></kml>"""


def test_kml_network_link_reported_never_fetched(tmp_path, monkeypatch):
    import socket
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("a reader touched the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    pm = ("<Placemark><name>东山水库</name><ExtendedData><Data name=\"类型\"><value>水库</value></Data></ExtendedData>"
          "<Point><coordinates>119.6,28.3,0</coordinates></Point></Placemark>")
    path = tmp_path / "n.kml"
    path.write_text(_KML.format(placemarks=pm), encoding="utf-8")
    layer = load_layer(path, "water_sources", display_name="链接.kml")
    assert layer.count == 1
    assert any("NetworkLink" in zh and "127.0.0.1:9" in en and "not" in en for zh, en in layer.notes)

    path.write_text(_KML.format(placemarks=""), encoding="utf-8")
    with pytest.raises(LayerError, match="只有网络链接") as err:
        load_layer(path, "water_sources", display_name="链接.kml")
    _bilingual(err, "链接.kml")


def test_kml_with_entity_expansion_refused(tmp_path):
    path = tmp_path / "b.kml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    "<kml><Placemark><name>&b;</name></Placemark></kml>", encoding="utf-8")
    with pytest.raises(LayerError, match="DTD") as err:
        read_vector(path, display_name="实体.kml")
    _bilingual(err, "实体.kml")


def test_kml_nested_beyond_any_real_document_refused(tmp_path):
    path = tmp_path / "deep.kml"
    path.write_text("<kml><Document>" + "<Folder><name>f</name>" * 5000 + "</Folder>" * 5000 + "</Document></kml>",
                    encoding="utf-8")
    with pytest.raises(LayerError, match="嵌套超过") as err:
        read_vector(path, display_name="深.kml")
    _bilingual(err, "深.kml")


# ---- GeoJSON with NaN / Infinity coordinates ----------------------------------------------------

@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_geojson_nan_coordinates_rejected_per_feature(tmp_path, bad):
    features = [{"type": "Feature", "properties": {"名称": "甲", "类型": "水库"},
                 "geometry": {"type": "Point", "coordinates": [119.6, 28.3]}},
                {"type": "Feature", "properties": {"名称": "乙", "类型": "水库"},
                 "geometry": {"type": "Point", "coordinates": ["BAD", 28.4]}}]
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    path = tmp_path / "n.geojson"
    path.write_text(text.replace('"BAD"', bad), encoding="utf-8")
    with pytest.raises(LayerError) as err:
        load_layer(path, "water_sources", display_name="非数.geojson")
    problems = err.value.problems
    assert len(problems) == 1 and problems[0].row == 2
    assert "NaN" in problems[0].en or "infinity" in problems[0].en
    _bilingual(err, "非数.geojson")


# ---- self-intersecting polygons -------------------------------------------------------------

def _grids_geojson(path: Path, rings: list[list[tuple[float, float]]]) -> Path:
    features = [{"type": "Feature", "properties": {"网格编号": f"G{i}", "网格级别": "三级"},
                 "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}
                for i, ring in enumerate(rings, start=1)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_self_intersecting_polygon_repaired_with_a_warning(tmp_path):
    square = [(119.0, 28.0), (119.1, 28.0), (119.1, 28.1), (119.0, 28.1), (119.0, 28.0)]
    bowtie = [(119.2, 28.0), (119.3, 28.1), (119.3, 28.0), (119.2, 28.1), (119.2, 28.0)]
    layer = load_layer(_grids_geojson(tmp_path / "g.geojson", [square, bowtie]), "grids", display_name="网格.geojson")
    assert layer.gdf.is_valid.all()
    assert layer.gdf.geometry.iloc[1].geom_type in ("Polygon", "MultiPolygon")
    # the two triangles of the bowtie, each 0.1 x 0.05 / 2 square degrees
    assert layer.gdf.geometry.iloc[1].area == pytest.approx(0.005, rel=1e-9)
    assert any("自相交" in zh and "self-intersections" in en for zh, en in layer.notes)


def test_polygon_collapsed_to_a_line_reported(tmp_path):
    flat = [(119.2, 28.0), (119.3, 28.0), (119.4, 28.0), (119.2, 28.0)]
    square = [(119.0, 28.0), (119.1, 28.0), (119.1, 28.1), (119.0, 28.1), (119.0, 28.0)]
    with pytest.raises(LayerError, match="无法自动修复") as err:
        load_layer(_grids_geojson(tmp_path / "g.geojson", [square, flat]), "grids", display_name="网格.geojson")
    (p,) = err.value.problems
    assert (p.row, p.field) == (2, "geometry")
    _bilingual(err, "网格.geojson")


# ---- text in number fields -----------------------------------------------------------------------

def test_text_in_number_fields_reported_per_row(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("名称,经度,纬度,容纳人数,面积\n一中,119.6,28.3,很多,1200\n二中,119.7,28.4,300人,约五百\n"
                    "三中,119.8,28.5,1e3,800\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        load_layer(path, "shelters", display_name="避难所.csv")
    got = [(p.row, p.field) for p in err.value.problems]
    assert got == [(2, "容纳人数"), (3, "面积")]
    assert "很多" in err.value.problems[0].zh and "约五百" in err.value.problems[1].en
    _bilingual(err, "避难所.csv")


# ---- wrong CRS by a zone ----------------------------------------------------------------------

def _gk_points(tmp_path: Path, epsg_true: int, epsg_declared: int | None, name: str) -> Path:
    gdf = _water().to_crs(epsg_true)
    if epsg_declared is None:
        gdf = gdf.set_crs(None, allow_override=True)
    else:
        gdf = gdf.set_crs(epsg_declared, allow_override=True)
    folder = tmp_path / name
    folder.mkdir()
    pyogrio.write_dataframe(gdf, folder / "水源.shp", encoding="UTF-8")
    return _zip(tmp_path / f"{name}.zip", {p.name: p.read_bytes() for p in folder.iterdir()})


COUNTY = (119.4, 28.1, 119.9, 28.5)   # lon/lat extent of the workspace's other layers


def test_wrong_zone_epsg_detected_against_the_other_layers(tmp_path):
    # truly CGCS2000 3-degree CM 120E (EPSG:4549), but the .prj says CM 117E (EPSG:4548)
    z = _gk_points(tmp_path, 4549, 4548, "wrong")
    assert load_layer(z, "water_sources").count == 2             # alone, nothing tells
    with pytest.raises(CRSError, match="EPSG:4549") as err:
        load_layer(z, "water_sources", display_name="水源.zip", near=COUNTY)
    assert "远离工作空间中的其他图层" in str(err.value) and "EPSG:4548" in str(err.value)
    _bilingual(err, "水源.zip")


def test_zone_prefix_dropped_without_prj_names_the_probable_zone(tmp_path):
    z = _gk_points(tmp_path, 4549, None, "noprj")
    with pytest.raises(CRSError, match="中央经线") as err:
        load_layer(z, "water_sources", display_name="水源.zip", near=COUNTY)
    assert "EPSG:4549" in str(err.value)
    _bilingual(err, "水源.zip")


def test_zone_prefixed_eastings_declared_in_another_zone(tmp_path):
    # eastings carry zone 40 (EPSG:4528) but the .prj says zone 39 (EPSG:4527)
    z = _gk_points(tmp_path, 4528, 4527, "prefixed")
    with pytest.raises(CRSError, match="带号为 40") as err:
        load_layer(z, "water_sources", display_name="水源.zip")
    assert "EPSG:4528" in err.value.problems[0].zh
    _bilingual(err, "水源.zip")


def test_gauss_kruger_landing_outside_china_refused():
    # 6-degree zone-20 eastings (CM 117E, EPSG:4498) declared as 3-degree CM 75E without zone (EPSG:4534):
    # the numbers are then read as 19-20 million metres east of CM 75E: nowhere on Earth
    bounds = (20_600_000.0, 3_130_000.0, 20_610_000.0, 3_140_000.0)
    assert probable_crs(bounds) == [4498]
    with pytest.raises(CRSError, match="EPSG:4498"):
        resolve_bounds_crs(bounds, "EPSG:4534", source="x.shp")


def test_far_lonlat_layer_only_warned():
    crs, notes = resolve_bounds_crs((101.0, 25.0, 101.2, 25.2), "EPSG:4490", source="y.geojson", near=COUNTY)
    assert crs.to_epsg() == 4490
    assert any("远离" in zh and "far from the other layers" in en for zh, en in notes)


# ---- the net under the readers ---------------------------------------------------------------

def test_library_error_escaping_a_reader_becomes_a_layer_error(tmp_path, monkeypatch):
    import zlib

    import layers.load

    path = tmp_path / "upload_9"
    path.write_bytes(b"{}")

    def broken(p, **kwargs):
        raise zlib.error(f"Error -3 while decompressing data: invalid block type in {p}")

    monkeypatch.setattr(layers.load, "read_vector", broken)
    with pytest.raises(LayerError, match="could not read: error") as err:
        load_layer(path, "water_sources", display_name="坏.geojson")
    _bilingual(err, "坏.geojson")
    assert str(tmp_path) not in str(err.value)


def test_programming_errors_are_not_hidden(tmp_path, monkeypatch):
    import layers.load

    path = tmp_path / "x.geojson"
    path.write_bytes(b"{}")
    monkeypatch.setattr(layers.load, "read_vector", lambda p, **kw: None.missing)
    with pytest.raises(AttributeError):
        load_layer(path, "water_sources")


def test_file_names_are_never_used_as_paths(tmp_path):
    """A hostile upload name only ever appears in messages: the file read is the server's own temp file."""
    path = tmp_path / "upload_tmp"
    path.write_text(_water().to_json(), encoding="utf-8")
    evil = "../../../../tmp/被替换.geojson"
    layer = load_layer(path, "water_sources", display_name=evil)
    assert layer.count == 2 and layer.source == evil
    assert not Path("/tmp/被替换.geojson").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload_tmp"]
    path.write_bytes(b"garbage")
    with pytest.raises(LayerError) as err:
        load_layer(path, "water_sources", display_name=evil)
    assert str(tmp_path) not in str(err.value) and evil in str(err.value)


def test_cli_import_catches_the_wrong_zone_against_the_workspace(tmp_path):
    """`gis import` checks a new layer against the workspace's own extent: exit 2, workspace unchanged."""
    import hashlib
    import subprocess
    import sys

    ws = tmp_path / "ws.gpkg"
    root = Path(__file__).resolve().parent.parent
    good = tmp_path / "water.geojson"
    _water().to_file(good, driver="GeoJSON")
    run = [sys.executable, "-m", "gis", "import", "--workspace", str(ws), "--layer", "water_sources"]
    assert subprocess.run(run + [str(good)], cwd=root, capture_output=True, timeout=120).returncode == 0
    before = hashlib.sha256(ws.read_bytes()).hexdigest()
    bad = _gk_points(tmp_path, 4549, 4548, "wrong")
    r = subprocess.run(run + ["--append", str(bad)], cwd=root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "EPSG:4549" in r.stderr and "Traceback" not in r.stderr
    assert hashlib.sha256(ws.read_bytes()).hexdigest() == before
