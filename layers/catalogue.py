"""The layer catalogue: one declared :class:`~layers.schema.LayerSpec` per layer kind.

Canonical field names are English snake_case; every field carries its Chinese and English label
and the headers offices actually write. ``CATALOGUE[kind]`` or :func:`spec` looks a kind up.

A spec also says how the kind is drawn (:class:`~layers.schema.Draw`: colour from
:mod:`layers.palette`, marker, drawing order, default visibility, label field, the pages whose map
draws it) and which fields are edited on the Workspace page. Everything else is derived from it:
:data:`VECTOR_KINDS` (drawing order), the map styles of :mod:`ui.map_view`, each page's layer
list (:func:`map_kinds`), the editable kinds (:func:`editable_kinds`). A new layer kind is one
entry here.

Kinds: ``villages``, ``grids`` (转移避险网格), ``buildings``, ``shelters``, ``depots`` (储备库),
``water_sources``, ``cameras``, ``roads``, ``rivers``, ``forest``, ``boundaries`` (county / township / village
outlines), ``graves``, ``dem``, ``flood_hazard``.
"""

from __future__ import annotations

from layers.palette import BREWER as B
from layers.schema import Draw, DrawClass, LayerSpec
from layers.schema import FieldSpec as F
from layers.text import Text

# ---- fields shared by several layers -------------------------------------------------------
NAME = F("name", "str", "名称", "Name", ("名字", "名称名", "站点名称", "title", "label"))
TOWNSHIP = F("township", "str", "乡镇", "Township",
             ("乡镇名称", "所属乡镇", "乡镇（街道）", "乡镇街道", "街道", "乡", "镇", "town", "township name"))
VILLAGE = F("village", "str", "村", "Village",
            ("村名", "所属村", "行政村", "村庄", "村委会", "自然村", "村庄名称", "village name"))
POPULATION = F("population", "int", "人口", "Population",
               ("人口数", "总人口", "人数", "常住人口", "户籍人口", "转移人数", "涉及人口", "pop", "people", "persons"),
               unit="人", minimum=0)
HOUSEHOLDS = F("households", "int", "户数", "Households",
               ("户", "总户数", "涉及户数", "转移户数", "households number", "hh"), unit="户", minimum=0)
VULNERABLE = F("vulnerable", "int", "老弱病残", "Vulnerable people",
               ("老弱病残人数", "弱势人员", "弱势群体", "特殊人群", "重点人员", "vulnerable people",
                "elderly disabled sick"),
               unit="人", minimum=0)
RESPONSIBLE = F("responsible", "str", "责任人", "Responsible person",
                ("网格责任人", "包保责任人", "负责人", "联系人", "管理人", "responsible person", "contact",
                 "person in charge"))
PHONE = F("phone", "str", "联系电话", "Phone",
          ("电话", "手机", "手机号", "手机号码", "联系方式", "电话号码", "tel", "telephone", "mobile"))
STATUS = F("status", "choice", "状态", "Status", ("使用状态", "运行状态", "现状", "state"),
           choices={"available": ("可用", "正常", "在用", "启用", "完好", "yes", "ok", "normal", "1"),
                    "unavailable": ("不可用", "停用", "关闭", "no", "closed", "0"),
                    "dry": ("干涸", "无水", "empty"),
                    "damaged": ("损坏", "故障", "待修", "broken", "faulty")})
REMARK = F("remark", "str", "备注", "Remark", ("说明", "note", "notes", "comment", "description", "描述"))

GRID_LEVELS = {
    "county": ("县级", "县", "1", "一级", "county level"),
    "township": ("乡镇级", "乡级", "镇级", "乡镇", "街道级", "2", "二级", "township level"),
    "village": ("村级", "村", "行政村级", "3", "三级", "village level"),
    "group": ("组级", "村民小组", "小组", "组", "自然村级", "4", "四级", "group level"),
    "household": ("户级", "联户", "户", "片区", "5", "五级", "household cluster", "cluster"),
}
#: grid level code -> rank (1 county ... 5 household cluster)
GRID_LEVEL_RANK = {code: i + 1 for i, code in enumerate(GRID_LEVELS)}

#: administrative levels of the boundaries layer, largest first (DataV writes ``province``, ``city``,
#: ``district``; a district, county-level city or banner is a county here, a subdistrict a township)
BOUNDARY_LEVELS = {
    "province": ("省级", "省", "自治区", "直辖市", "province"),
    "prefecture": ("地级", "市级", "地级市", "市", "州", "盟", "prefecture", "city"),
    "county": ("县级", "县", "区", "县级市", "旗", "区县", "县区", "county", "district", "banner"),
    "township": ("乡镇级", "乡级", "镇级", "乡镇", "乡", "镇", "街道", "苏木", "township", "town", "street",
                 "subdistrict"),
    "village": ("村级", "村", "行政村", "社区", "居委会", "村委会", "嘎查", "village", "community"),
}

#: OpenStreetMap ``highway`` values and the road class each is taken as (``*_link`` as its road; foot and
#: cycle ways as tracks). Values outside this list and the Chinese names are kept as ``other``.
OSM_ROAD_CLASSES = {
    "motorway": "highway", "motorway_link": "highway", "trunk": "national", "trunk_link": "national",
    "primary": "provincial", "primary_link": "provincial", "secondary": "county", "secondary_link": "county",
    "tertiary": "township", "tertiary_link": "township", "unclassified": "village", "residential": "village",
    "living_street": "village", "service": "village", "road": "village", "busway": "village",
    "bus_guideway": "village", "escape": "village", "track": "track", "path": "track", "footway": "track",
    "steps": "track", "pedestrian": "track", "bridleway": "track", "cycleway": "track", "via_ferrata": "track",
}


def _road_choices() -> dict[str, tuple[str, ...]]:
    base = {"highway": ("高速", "高速公路", "highway"),
            "national": ("国道", "national"),
            "provincial": ("省道", "provincial"),
            "county": ("县道", "county"),
            "township": ("乡道", "township"),
            "village": ("村道", "村级道路", "村内道路", "街道", "village"),
            "track": ("机耕路", "林道", "小路", "步道", "防火道", "人行道", "track", "path"),
            "other": ("其他", "other")}
    for osm, code in OSM_ROAD_CLASSES.items():
        if osm not in base[code]:
            base[code] += (osm,)
    return base

SPECS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "villages", "村庄", "Villages", ("Point", "Polygon"),
        (
            F("name", "str", "村名", "Village",
              NAME.aliases + ("名称", "name", "村名称", "村庄名称", "自然村", "行政村", "村", "village"),
              required=True),
            TOWNSHIP,
            F("village_id", "str", "村编码", "Village code", ("编码", "编号", "村代码", "行政区划代码", "code", "id")),
            POPULATION, HOUSEHOLDS, VULNERABLE, RESPONSIBLE, PHONE, REMARK,
        ),
        id_field="village_id",
        description_zh="村或自然村，点位或范围面，带人口、户数和老弱病残人数。",
        description_en="Villages as points or areas, with population, households and vulnerable people.",
        draw=Draw(B["PuOr9"][0], B["PuOr9"][2], 1.0, shape="circle", radius=5, order=70, label="name",
                  label_zoom=12, label_rank=2, maps=("flood",)),
        editable=("name", "township", "population", "households", "vulnerable", "responsible", "phone", "remark"),
    ),
    LayerSpec(
        "grids", "转移避险网格", "Transfer grids", ("Polygon",),
        (
            F("grid_id", "str", "网格编号", "Grid ID",
              ("网格编码", "网格代码", "网格id", "网格号", "编号", "grid code", "grid no", "id"), required=True),
            F("name", "str", "网格名称", "Grid name", ("网格名", "名称", "name")),
            F("level", "choice", "网格层级", "Level", ("层级", "级别", "网格级别", "等级", "grid level"),
              required=True, choices=GRID_LEVELS),
            F("parent_id", "str", "上级网格编号", "Parent grid ID",
              ("上级网格", "上级编号", "上级网格编码", "所属网格", "父网格", "parent", "parent grid")),
            TOWNSHIP, VILLAGE,
            F("responsible", "str", "网格责任人", "Responsible person", RESPONSIBLE.aliases + ("责任人",)),
            PHONE, HOUSEHOLDS, POPULATION, VULNERABLE,
            F("shelter", "str", "安置场所", "Shelter",
              ("避灾安置场所", "转移安置点", "安置点", "安置场所名称", "避险场所", "转移地点", "shelter name")),
            REMARK,
        ),
        id_field="grid_id",
        description_zh="转移避险网格（县、乡镇、村、组、联户五级），带责任人、电话、户数、人数和安置场所。",
        description_en="Evacuation grids in five levels (county, township, village, group, household cluster).",
        draw=Draw(B["Purples7"][6], None, 1.0, fill_opacity=0.0, order=50, maps=("flood",), by="level", classes=(
            DrawClass("county", B["Purples7"][6], 3.0),
            DrawClass("township", B["Purples7"][5], 2.2),
            # a prefecture's 2,500 village grids crowd its overview (and double its page): one click away there
            DrawClass("village", B["Purples7"][3], 1.4, overview_show=False),
            DrawClass("group", B["PuRd5"][1], 1.0, B["PuRd5"][1], 0.08, show=False),
            DrawClass("household", B["RdPu5"][1], 0.8, B["RdPu5"][1], 0.08, show=False))),
        editable=("name", "responsible", "phone", "households", "population", "vulnerable", "shelter", "remark"),
    ),
    LayerSpec(
        "buildings", "房屋", "Buildings", ("Point", "Polygon"),
        (
            F("building_id", "str", "房屋编号", "Building ID", ("编号", "编码", "门牌号", "房屋编码", "id", "code")),
            F("use", "str", "用途", "Use", ("房屋用途", "房屋类型", "建筑类型", "类型", "building", "type")),
            HOUSEHOLDS, POPULATION,
            F("floors", "int", "层数", "Floors", ("楼层数", "楼层", "建筑层数", "building:levels", "levels"),
              unit="层", minimum=0, maximum=200),
            TOWNSHIP, VILLAGE, REMARK,
        ),
        id_field="building_id",
        description_zh="房屋（点位或轮廓面），判断洪水是否到达人们居住的地方；可带户数、人数和层数。",
        description_en="Buildings (points or footprints): where people live, used to judge whether the water reaches "
                       "homes; optional households, people and floors.",
        draw=Draw(B["Greys5"][3], B["Greys5"][2], 0.6, fill_opacity=0.6, shape="square", radius=2.5, order=60,
                  show=False, maps=("flood",)),
    ),
    LayerSpec(
        "shelters", "避灾安置场所", "Shelters", ("Point", "Polygon"),
        (
            F("name", "str", "场所名称", "Shelter name", NAME.aliases + ("安置场所", "避难场所", "名称", "shelter"),
              required=True),
            F("shelter_id", "str", "场所编号", "Shelter ID", ("编号", "编码", "id", "code")),
            F("type", "choice", "场所类型", "Type", ("类型", "类别", "场所类别", "shelter type"),
              choices={"school": ("学校", "中学", "小学", "school"),
                       "village_hall": ("村委会", "村部", "礼堂", "文化礼堂", "文化中心", "村级活动中心",
                                        "village hall"),
                       "gym": ("体育馆", "体育场", "gym", "stadium"),
                       "hotel": ("宾馆", "酒店", "旅馆", "hotel"),
                       "public_building": ("公共建筑", "政府", "办公楼", "public building"),
                       "tent_site": ("帐篷", "空地", "广场", "open space", "tent site"),
                       "other": ("其他", "other")}),
            F("capacity", "int", "容纳人数", "Capacity",
              ("可容纳人数", "容量", "安置人数", "可安置人数", "设计容量", "capacity persons"), required=True,
              unit="人", minimum=0),
            F("area", "float", "面积", "Floor area", ("建筑面积", "使用面积", "场所面积", "floor area"), unit="m²",
              minimum=0),
            F("capacity_estimated", "bool", "容纳人数为估算", "Capacity estimated",
              ("容量为估算", "估算容量", "容纳人数估算", "estimated capacity"), true_words=("估算", "estimated"),
              false_words=("核定", "实测", "checked")),
            TOWNSHIP, VILLAGE, RESPONSIBLE, PHONE,
            F("supplies", "str", "物资储备", "Supplies", ("物资", "储备物资", "supplies")),
            STATUS, REMARK,
        ),
        id_field="shelter_id",
        description_zh="避灾安置场所，带容纳人数与类型。",
        description_en="Shelters with capacity in persons and type.",
        draw=Draw("#ffffff", B["Dark2"][0], 1.2, shape="square", radius=6, order=80, label="name", label_zoom=11,
                  label_rank=3, maps=("flood",)),
        editable=("name", "type", "capacity", "area", "township", "village", "responsible", "phone", "supplies",
                  "status", "remark"),
    ),
    LayerSpec(
        "depots", "储备库", "Reserve depots", ("Point", "Polygon"),
        (
            F("name", "str", "储备库名称", "Depot name",
              NAME.aliases + ("名称", "仓库名称", "储备库", "物资储备库", "仓库", "救灾物资储备库", "depot",
                              "warehouse"),
              required=True),
            F("depot_id", "str", "储备库编号", "Depot ID", ("编号", "编码", "仓库编号", "id", "code")),
            TOWNSHIP, RESPONSIBLE, PHONE,
            F("rice_kg", "float", "大米", "Rice", ("米", "粮食", "大米库存", "大米数量", "rice", "rice kg"), unit="kg",
              minimum=0),
            F("drinking_l", "float", "饮用水", "Drinking water",
              ("瓶装水", "矿泉水", "饮用水库存", "饮水", "water", "drinking water", "bottled water"), unit="L",
              minimum=0),
            F("tents", "int", "帐篷", "Tents", ("救灾帐篷", "帐篷数量", "帐篷库存", "tent"), unit="件", minimum=0),
            F("quilts", "int", "棉被", "Quilts", ("被子", "棉被数量", "被褥", "毛毯", "quilt", "blankets"), unit="件",
              minimum=0),
            F("family_kits", "int", "家庭包", "Family kits",
              ("家庭应急包", "应急包", "家庭箱", "生活包", "family kit", "kits"), unit="件", minimum=0),
            STATUS, REMARK,
        ),
        id_field="depot_id",
        description_zh="救灾物资储备库：位置与各类物资库存（大米、饮用水、帐篷、棉被、家庭包）。",
        description_en="Relief reserve depots: location and stock per item (rice, drinking water, tents, quilts, "
                       "family kits).",
        draw=Draw("#ffffff", B["BrBG10"][0], 1.2, shape="diamond", radius=7, order=85, label="name", label_zoom=11,
                  label_rank=3),
        editable=("name", "township", "responsible", "phone", "rice_kg", "drinking_l", "tents", "quilts",
                  "family_kits", "status", "remark"),
    ),
    LayerSpec(
        "water_sources", "水源点", "Water sources", ("Point",),
        (
            F("name", "str", "水源名称", "Name", NAME.aliases + ("名称", "水源点")),
            F("source_id", "str", "水源编号", "Source ID", ("编号", "编码", "id", "code")),
            F("type", "choice", "水源类型", "Type", ("类型", "类别", "水源类别", "source type"), required=True,
              choices={"reservoir": ("水库", "reservoir"),
                       "pond": ("坝塘", "山塘", "池塘", "塘", "pond"),
                       "cistern": ("水窖", "cistern"),
                       "tank": ("蓄水池", "蓄水桶", "消防水池", "水池", "水桶", "tank", "bucket"),
                       "river_intake": ("河流取水点", "取水点", "河道", "河流", "溪流", "river intake", "river"),
                       "hydrant": ("消防栓", "消火栓", "hydrant")}),
            F("volume", "float", "蓄水量", "Volume", ("容量", "库容", "水量", "容积", "储水量", "volume m3"), unit="m³",
              minimum=0),
            F("seasonal", "bool", "季节性", "Seasonal",
              ("是否季节性", "常年/季节", "季节性水源", "水源性质", "seasonal"),
              true_words=("季节性", "临时", "雨季", "间歇性", "季节性水源", "季节", "临时性", "间歇", "seasonal"),
              false_words=("常年", "永久", "长期", "长年", "常年性", "常年水源", "永久性", "permanent", "perennial")),
            F("vehicle_access", "bool", "车辆可达", "Vehicle access",
              ("是否通车", "车辆能否到达", "通车", "可通车", "vehicle", "vehicle access"),
              true_words=("可达", "通车", "机动车", "公路", "车辆可达", "可通车", "能通车", "车辆", "车行", "vehicle"),
              false_words=("不可达", "不通车", "步行", "徒步", "车辆不可达", "不能通车", "仅步行", "人行", "步道",
                           "foot", "on foot", "walk")),
            F("helicopter", "bool", "直升机取水", "Helicopter dip site",
              ("吊桶取水点", "直升机吊桶", "航空取水", "helicopter", "heli dip"),
              true_words=("可吊桶", "可以吊桶", "能吊桶", "吊桶", "可取水", "直升机可取水", "适合", "适宜",
                          "helicopter"),
              false_words=("不可吊桶", "不能吊桶", "不可取水", "不适合", "不适宜", "no helicopter")),
            F("depth", "float", "水深", "Water depth", ("深度", "平均水深", "depth"), unit="m", minimum=0),
            F("area", "float", "水面面积", "Area", ("面积", "水域面积", "水面积", "area m2"), unit="m²", minimum=0),
            TOWNSHIP, STATUS, REMARK,
        ),
        id_field="source_id",
        description_zh="森林防灭火水源点：水库、坝塘、水窖、蓄水池（桶）、河流取水点、消防栓。",
        description_en="Firefighting water sources: reservoirs, ponds, cisterns, tanks, river intakes, hydrants.",
        draw=Draw("#ffffff", B["BrBG10"][8], 1.0, shape="circle", radius=4.5, order=90, show=False,
                  maps=("fire",)),
        editable=("name", "type", "volume", "seasonal", "vehicle_access", "helicopter", "depth", "township", "status",
                  "remark"),
    ),
    LayerSpec(
        "cameras", "视频监控", "Cameras", ("Point",),
        (
            F("name", "str", "监控名称", "Name", NAME.aliases + ("名称", "探头名称", "点位名称")),
            F("camera_id", "str", "监控编号", "Camera ID", ("编号", "编码", "设备编号", "id", "code")),
            F("type", "choice", "监控类型", "Type", ("类型", "类别", "设备类型", "camera type"),
              choices={"video": ("视频监控", "可见光", "视频", "高清视频", "video"),
                       "thermal": ("热成像", "红外", "红外热成像", "双光谱", "thermal", "infrared"),
                       "lookout": ("瞭望台", "瞭望塔", "瞭望哨", "lookout", "tower")}),
            F("height", "float", "架设高度", "Mast height",
              ("高度", "塔高", "杆高", "安装高度", "架高", "mast height", "height m"), unit="m", minimum=0,
              maximum=300),
            F("range", "float", "监测半径", "Range", ("监控半径", "监控范围", "可视距离", "覆盖半径", "监测距离",
                                                   "有效距离", "radius", "range m"), unit="m", minimum=0,
              maximum=100_000),
            F("azimuth", "float", "方位角", "Azimuth", ("朝向", "方向", "方位", "azimuth deg", "bearing"), unit="°",
              minimum=0, maximum=360),
            F("fov", "float", "视场角", "Field of view", ("水平视场角", "视角", "field of view", "hfov"), unit="°",
              minimum=0, maximum=360),
            TOWNSHIP, STATUS, REMARK,
        ),
        id_field="camera_id",
        description_zh="林火视频监控、热成像探头和瞭望台，带架设高度、监测半径，可选方位角与视场角。",
        description_en="Fire cameras, thermal cameras and lookout towers; mast height, range, optional azimuth/FOV.",
        draw=Draw("#ffffff", B["Greys5"][4], 1.0, shape="triangle", radius=6, order=100, show=False, maps=("fire",)),
        editable=("name", "type", "height", "range", "azimuth", "fov", "township", "status", "remark"),
    ),
    LayerSpec(
        "roads", "道路", "Roads", ("LineString",),
        (
            NAME,
            F("road_class", "choice", "道路等级", "Road class",
              ("等级", "类型", "公路等级", "道路类型", "class", "highway"),
              choices=_road_choices(), keep_raw="class_raw"),
            F("speed", "float", "设计速度", "Speed", ("速度", "限速", "speed kmh"), unit="km/h", minimum=0,
              maximum=150),
            F("class_raw", "str", "原始等级", "Class as written", ("原等级", "原始道路等级", "osm class", "class raw")),
            REMARK,
        ),
        description_zh="道路网，用于转移路线与通达性。OpenStreetMap 的道路类型（service、footway、*_link 等）"
                       "按对应等级接收，"
                       "原值保存在“原始等级”中。",
        description_en="Road network for routes and access. OpenStreetMap highway values (service, footway, *_link...) "
                       "are taken as the matching class, the value as written kept in 'Class as written'.",
        draw=Draw(B["Dark2"][6], None, 1.8, order=40, maps=("flood", "fire")),
    ),
    LayerSpec(
        "rivers", "河流", "Rivers", ("LineString", "Polygon"),
        (NAME, F("river_class", "str", "河流等级", "River class", ("等级", "级别", "class")), REMARK),
        description_zh="河流水系（线或面）。",
        description_en="Rivers and streams (lines or areas).",
        draw=Draw(B["YlGnBu5"][2], B["YlGnBu5"][2], 2.0, fill_opacity=0.5, order=30, maps=("flood", "fire")),
    ),
    LayerSpec(
        "forest", "森林", "Forest", ("Polygon", "raster"),
        (
            F("forest_type", "choice", "林分类型", "Forest type",
              ("森林类型", "地类", "优势树种", "林地类型", "植被类型", "forest type", "type"),
              choices={"conifer": ("针叶林", "松林", "杉木林", "conifer", "coniferous"),
                       "broadleaf": ("阔叶林", "broadleaf", "deciduous"),
                       "mixed": ("混交林", "针阔混交林", "mixed"),
                       "bamboo": ("竹林", "bamboo"),
                       "shrub": ("灌木林", "灌木", "shrub", "shrubland"),
                       "grass": ("草地", "草原", "grass", "grassland"),
                       "other": ("其他", "other")}),
            F("compartment", "str", "林班号", "Compartment", ("林班", "小班", "林班编号", "compartment")),
            TOWNSHIP, REMARK,
        ),
        raster_unit="class",
        description_zh="森林范围（林班面，或土地覆盖栅格：非零即林地）。",
        description_en="Forest cover: compartments as polygons, or a land-cover raster (non-zero is forest).",
        draw=Draw(B["Greens5"][2], B["Greens5"][1], 0.5, fill_opacity=0.45, order=10, show=False, maps=("fire",)),
    ),
    LayerSpec(
        "boundaries", "行政区界", "Boundaries", ("Polygon",),
        (
            F("name", "str", "名称", "Name",
              ("行政区名称", "行政区划名称", "区划名称", "边界名称", "xzqmc", "名字", "title", "label", "name"),
              required=True),
            F("code", "str", "区划代码", "Code",
              ("行政区划代码", "行政区代码", "区划编码", "行政代码", "adcode", "xzqdm", "编码", "代码", "编号", "ref",
               "code", "id")),
            F("level", "choice", "层级", "Level", ("级别", "行政级别", "区划级别", "层次", "admin level", "level"),
              choices=BOUNDARY_LEVELS),
            F("parent", "str", "上级", "Parent",
              ("上级代码", "上级编码", "上级区划", "上级区划代码", "上级行政区", "所属上级", "parent code",
               "parent name", "parent adcode", "parent")),
            REMARK,
        ),
        id_field="code",
        description_zh="县、乡镇、村的行政区界（面），带名称、区划代码、层级与上级；分乡镇统计、地图上的乡镇界和选择乡镇都用它。"
                       "可直接导入 DataV（阿里云）行政区 GeoJSON。",
        description_en="County, township and village boundaries (polygons) with name, code, level and parent; used "
                       "for per-township tables, the outlines on the maps and choosing a township. DataV (Aliyun) "
                       "GeoJSON is read as it comes.",
        draw=Draw(B["PRGn10"][0], None, 1.2, fill_opacity=0.0, order=25,
                  maps=("flood", "fire"), by="level", classes=(
                      DrawClass("province", B["Oranges5"][4], 3.5, show=False),
                      DrawClass("prefecture", B["BrBG10"][9], 3.2, show=False),
                      DrawClass("county", B["PRGn10"][0], 3.0),
                      DrawClass("township", B["RdPu5"][3], 2.2),
                      DrawClass("village", B["PRGn10"][2], 1.2, show=False))),
    ),
    LayerSpec(
        "graves", "坟墓", "Graves", ("Point",),
        (F("name", "str", "名称", "Name", NAME.aliases + ("坟墓", "墓地", "坟地", "公墓")), TOWNSHIP, REMARK),
        description_zh="坟墓、墓地、坟地（清明祭扫用火是重要火源）。",
        description_en="Graves and cemeteries (grave-side burning at Qingming is a major ignition source).",
        draw=Draw(B["BrBG10"][1], B["BrBG10"][3], 0.8, shape="diamond", radius=4.5, order=75, show=False,
                  maps=("fire",)),
    ),
    LayerSpec(
        "dem", "数字高程模型", "DEM", ("raster",), raster_unit="m",
        description_zh="数字高程模型（GeoTIFF，米）。",
        description_en="Digital elevation model (GeoTIFF, metres).",
    ),
    LayerSpec(
        "flood_hazard", "洪水风险", "Flood hazard", ("raster", "Polygon"),
        (
            F("depth", "float", "淹没水深", "Depth", ("水深", "最大水深", "淹没深度", "flood depth", "depth m"),
              unit="m", minimum=0),
            F("hazard_class", "str", "风险等级", "Hazard class", ("等级", "危险等级", "风险级别", "class", "level")),
            NAME, REMARK,
        ),
        raster_unit="m",
        description_zh="洪水淹没水深栅格（米），或危险区范围面（可带水深或等级）。",
        description_en="Flood depth raster (metres), or danger-zone polygons (optionally with depth or class).",
        draw=Draw(B["Blues5"][3], B["Blues9"][3], 0.5, fill_opacity=0.45, order=20, show=False, maps=("flood",),
                  legend=Text("危险区", "Danger zones")),
    ),
)

CATALOGUE: dict[str, LayerSpec] = {s.kind: s for s in SPECS}

#: kinds drawn on the map as vector layers, bottom to top (from each spec's drawing order)
VECTOR_KINDS: tuple[str, ...] = tuple(kind for _, kind in sorted(
    ((s.draw.order, s.kind) for s in SPECS if s.draw is not None), key=lambda p: p[0]))


def map_kinds(page: str) -> list[str]:
    """The kinds a page's layer map draws (``'flood'``, ``'fire'``; ``'data'``: every drawn kind), bottom to top."""
    return [k for k in VECTOR_KINDS if page == "data" or ((d := CATALOGUE[k].draw) is not None and page in d.maps)]


def editable_kinds() -> list[str]:
    """The kinds edited on the Workspace page (those whose spec names editable fields), those with the most
    editable fields first (shelters: capacity, status and supplies change most between seasons)."""
    return [s.kind for s in sorted((s for s in SPECS if s.editable), key=lambda s: -len(s.editable))]


#: stock fields of a depot (item -> field name; the items of :mod:`gis.ops.dispatch`)
DEPOT_ITEMS = ("rice_kg", "drinking_l", "tents", "quilts", "family_kits")


def spec(kind: str) -> LayerSpec:
    """The spec of layer ``kind``.

    Raises
    ------
    KeyError
        With the list of known kinds, when ``kind`` is not one.
    """
    try:
        return CATALOGUE[kind]
    except KeyError:
        raise KeyError(f"unknown layer kind {kind!r}; known: {', '.join(CATALOGUE)}") from None
