"""The query builder against the official driver: same wire JSON, same printed text.

Each query below is Python source evaluated once with our ``r`` and once with the official
driver's ``r``; variable counters are reset first so lambdas get the same ids in both.
"""

from __future__ import annotations

import datetime
import itertools
import json

import pytest
import rethinkdb
import rethinkdb.ast as official_ast

from rethought import r as our_r
from rethought.errors import ReqlDriverCompileError, ReqlDriverError
from rethought.query import ast as our_ast

UTC = datetime.UTC
PLUS2 = datetime.timezone(datetime.timedelta(hours=2))

QUERIES = [
    # literals and r.expr
    "r.expr(1)",
    "r.expr(1.5)",
    "r.expr(-3)",
    "r.expr('foo')",
    "r.expr('it\\'s \"quoted\"')",
    "r.expr('unicode é ✓')",
    "r.expr(True)",
    "r.expr(False)",
    "r.expr(None)",
    "r.expr([])",
    "r.expr({})",
    "r.expr([1, 2, 3])",
    "r.expr((1, 2))",
    "r.expr([1, [2, [3, [4]]]])",
    "r.expr({'a': 1, 'b': [1, 2], 'c': {'d': None}})",
    "r.expr({'a': r.row['x']})",
    "r.expr([r.now(), 1])",
    "r.expr(1, nesting_depth=5)",
    "r.expr({'a': {'b': 1}}, 3)",
    "r.expr(b'abc')",
    "r.expr(b'')",
    "r.expr(bytearray(b'ab'))",
    "r.expr(range(3))",
    "r.expr({'t': datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)})",
    "r.expr(datetime.datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=PLUS2))",
    "r.expr(lambda: 1)",
    "r.expr(lambda x, y: x + y)",
    "r.binary(b'\\x00\\x01\\x02')",
    "r.binary(r.expr('abc'))",
    "r.expr(r.expr(1))",
    # arithmetic and comparison operators
    "r.expr(1) + 2",
    "1 + r.expr(2)",
    "r.expr(1) - 2",
    "5 - r.expr(2)",
    "r.expr(2) * 3",
    "3 * r.expr(2)",
    "r.expr(6) / 3",
    "6 / r.expr(3)",
    "r.expr(7) % 3",
    "7 % r.expr(3)",
    "r.expr(1) == 1",
    "r.expr(1) != 2",
    "r.expr(1) < 2",
    "r.expr(1) <= 2",
    "r.expr(1) > 2",
    "r.expr(1) >= 2",
    "1 < r.expr(2)",
    "r.expr('a') == r.expr('b')",
    "~r.expr(True)",
    "~(r.expr(1) == 2)",
    "r.expr(True) & False",
    "True & r.expr(False)",
    "r.expr(True) | False",
    "False | r.expr(True)",
    "(r.expr(1) < 2) & (r.expr(2) < 3)",
    "(r.expr(1) + 2) * (r.expr(3) - 4) / 5 % 6",
    "r.expr([1, 2]) + [3]",
    "r.expr(1).eq(1, 1)",
    "r.expr(1).ne(2)",
    "r.expr(1).lt(2, 3)",
    "r.expr(1).le(2)",
    "r.expr(1).gt(0)",
    "r.expr(1).ge(0)",
    "r.expr(1).add(2, 3)",
    "r.expr(1).sub(2)",
    "r.expr(1).mul(2)",
    "r.expr(1).div(2)",
    "r.expr(1).mod(2)",
    "r.expr(True).and_(False, True)",
    "r.expr(True).or_(False)",
    "r.expr(True).not_()",
    "r.expr(5).bit_and(3)",
    "r.expr(5).bit_or(3)",
    "r.expr(5).bit_xor(3)",
    "r.expr(5).bit_not()",
    "r.expr(5).bit_sal(1)",
    "r.expr(5).bit_sar(1)",
    "r.expr(1.5).floor()",
    "r.expr(1.5).ceil()",
    "r.expr(1.5).round()",
    "r.eq(1, 2)",
    "r.ne(1, 2)",
    "r.lt(1, 2)",
    "r.le(1, 2)",
    "r.gt(1, 2)",
    "r.ge(1, 2)",
    "r.add(1, 2, 3)",
    "r.sub(1, 2)",
    "r.mul(1, 2)",
    "r.div(1, 2)",
    "r.mod(1, 2)",
    "r.and_(True, False)",
    "r.and_()",
    "r.or_(True, False)",
    "r.not_(True)",
    "r.bit_and(1, 2)",
    "r.bit_or(1, 2)",
    "r.bit_xor(1, 2)",
    "r.bit_not(1)",
    "r.bit_sal(1, 2)",
    "r.bit_sar(1, 2)",
    "r.floor(1.5)",
    "r.ceil(1.5)",
    "r.round(1.5)",
    # brackets, slices, documents
    "r.expr({'a': 1})['a']",
    "r.expr([1, 2, 3])[1]",
    "r.expr([1, 2, 3])[-1]",
    "r.expr([1, 2, 3])[1:2]",
    "r.expr([1, 2, 3])[1:]",
    "r.expr([1, 2, 3])[:2]",
    "r.expr([1, 2, 3])[0:0]",
    "r.table('t')['a']",
    "r.table('t').get(1)['a']['b']",
    "r.row['a']",
    "r.row['a']['b'] + 1",
    "r.expr({'a': 1}).get_field('a')",
    "r.expr([1]).nth(0)",
    "r.expr([1, 2]).slice(0, 1)",
    "r.expr([1, 2]).slice(0, 1, left_bound='open', right_bound='closed')",
    "r.expr({'a': 1}).pluck('a', 'b')",
    "r.expr({'a': 1}).pluck({'a': True})",
    "r.expr({'a': 1}).without('a')",
    "r.expr({'a': 1}).merge({'b': 2})",
    "r.expr({'a': 1}).merge(lambda d: {'b': d['a']})",
    "r.expr({'a': 1}).merge({'b': r.row['a']})",
    "r.expr({'a': 1}).has_fields('a')",
    "r.expr([{'a': 1}]).with_fields('a')",
    "r.expr({'a': 1}).keys()",
    "r.expr({'a': 1}).values()",
    "r.expr([1, 2]).contains(1)",
    "r.expr([1, 2]).contains(lambda x: x > 1)",
    "r.expr([1, 2]).contains(r.row > 1)",
    "r.object('a', 1, 'b', 2)",
    "r.literal({'a': 1})",
    "r.literal()",
    "r.expr({'a': 1}).merge({'a': r.literal([1])})",
    "r.expr(None).default(1)",
    "r.expr([1]).append(2)",
    "r.expr([1]).prepend(0)",
    "r.expr([1, 2]).difference([1])",
    "r.expr([1]).set_insert(2)",
    "r.expr([1]).set_union([2])",
    "r.expr([1]).set_intersection([1])",
    "r.expr([1]).set_difference([1])",
    "r.expr([1, 2]).insert_at(1, 3)",
    "r.expr([1, 2]).splice_at(1, [3, 4])",
    "r.expr([1, 2]).delete_at(0)",
    "r.expr([1, 2]).delete_at(0, 1)",
    "r.expr([1, 2]).change_at(0, 5)",
    "r.expr([1, 2]).offsets_of(1)",
    "r.expr([1, 2]).offsets_of(lambda x: x == 2)",
    "r.expr([]).is_empty()",
    "r.expr([1, 2]).sample(1)",
    # strings
    "r.expr('abc').match('^a')",
    "r.expr('a b').split()",
    "r.expr('a,b').split(',', 1)",
    "r.expr('a').upcase()",
    "r.expr('A').downcase()",
    "r.expr(1).coerce_to('string')",
    "r.expr(1).type_of()",
    "r.expr(1).info()",
    "r.expr(1).to_json()",
    "r.expr(1).to_json_string()",
    "r.json('[1]')",
    "r.type_of(1)",
    "r.info(r.table('t'))",
    "r.uuid()",
    "r.uuid('name')",
    # control
    "r.branch(r.expr(1) > 0, 'pos', 'neg')",
    "r.branch(True, 1, False, 2, 3)",
    "r.expr(True).branch(1, 2)",
    "r.do(lambda: 1)",
    "r.do(1, lambda x: x + 1)",
    "r.do(1, 2, lambda x, y: x + y)",
    "r.expr(1).do(lambda x: x * 2)",
    "r.table('t').do(lambda t: t.count())",
    "r.expr(1).do(r.row + 1)",
    "r.error('boom')",
    "r.error()",
    "r.js('1 + 1')",
    "r.js('1 + 1', timeout=3)",
    "r.http('http://example.com')",
    "r.http('http://example.com', method='POST', data={'a': 1})",
    "r.args([1, 2])",
    "r.expr([1, 2]).for_each(lambda x: r.table('t').insert({'id': x}))",
    "r.random()",
    "r.random(1, 10, float=True)",
    "r.range()",
    "r.range(10)",
    "r.range(1, 10)",
    "r.expr([1, 2]).map(r.row * 2)",
    # sequences
    "r.table('t')",
    "r.table('t', read_mode='outdated')",
    "r.table('t', identifier_format='uuid')",
    "r.db('d')",
    "r.db('d').table('t')",
    "r.db('d').table('t', read_mode='single')",
    "r.table('t').filter({'a': 1})",
    "r.table('t').filter(lambda doc: doc['a'] == 1)",
    "r.table('t').filter(r.row['a'] == 1)",
    "r.table('t').filter(r.row['a'] == 1, default=True)",
    "r.table('t').filter(lambda d: d['age'] > 18).map(lambda d: d['name'])",
    "r.table('t').map(lambda d: d.merge({'x': 1}))",
    "r.table('t').map(r.table('u'), lambda a, b: [a, b])",
    "r.map(r.table('t'), r.table('u'), lambda a, b: a + b)",
    "r.map(r.table('t'), r.row['a'])",
    "r.table('t').concat_map(lambda d: d['tags'])",
    "r.table('t').concat_map(r.row['tags'])",
    "r.table('t').order_by('a')",
    "r.table('t').order_by('a', 'b')",
    "r.table('t').order_by(r.desc('a'))",
    "r.table('t').order_by(r.asc('a'), r.desc('b'))",
    "r.table('t').order_by(index='a')",
    "r.table('t').order_by(index=r.desc('a'))",
    "r.table('t').order_by(lambda d: d['a'])",
    "r.table('t').order_by(r.row['a'])",
    "r.table('t').order_by(r.desc(r.row['a']))",
    "r.table('t').order_by(r.asc(lambda d: d['a']))",
    "r.table('t').skip(1)",
    "r.table('t').limit(2)",
    "r.table('t').slice(1, 2)",
    "r.table('t').between(1, 10)",
    "r.table('t').between(1, 10, index='a', right_bound='closed')",
    "r.table('t').between(r.minval, r.maxval)",
    "r.table('t').distinct()",
    "r.table('t').distinct(index='a')",
    "r.table('t').count()",
    "r.table('t').count(1)",
    "r.table('t').count(lambda d: d['a'] > 1)",
    "r.table('t').count(r.row['a'] > 1)",
    "r.table('t').union(r.table('u'))",
    "r.table('t').union(r.table('u'), interleave='a')",
    "r.table('t').union(r.table('u'), interleave=lambda d: d['a'])",
    "r.union([1], [2])",
    "r.table('t').inner_join(r.table('u'), lambda a, b: a['id'] == b['tid'])",
    "r.table('t').outer_join(r.table('u'), lambda a, b: a['id'] == b['tid'])",
    "r.table('t').eq_join('uid', r.table('u'))",
    "r.table('t').eq_join('uid', r.table('u'), index='x')",
    "r.table('t').eq_join(r.row['uid'], r.table('u'))",
    "r.table('t').eq_join('uid', r.table('u')).zip()",
    "r.table('t').is_empty()",
    "r.table('t').sample(3)",
    "r.table('t').changes()",
    "r.table('t').changes(squash=True, include_initial=True)",
    "r.table('t').get(1).changes(include_types=True)",
    "r.table('t').order_by(index='a').limit(2).changes()",
    # aggregation
    "r.table('t').group('a')",
    "r.table('t').group('a', 'b')",
    "r.table('t').group(lambda d: d['a'])",
    "r.table('t').group(r.row['a'])",
    "r.table('t').group(index='a')",
    "r.table('t').group('a', multi=True)",
    "r.table('t').group('a').count().ungroup()",
    "r.table('t').reduce(lambda a, b: a + b)",
    "r.table('t').fold(0, lambda acc, d: acc + 1)",
    "r.table('t').fold(0, lambda acc, d: acc + 1, emit=lambda acc, d, n: [n])",
    "r.table('t').fold(0, lambda a, d: a, emit=lambda a, d, n: [d], final_emit=lambda a: [a])",
    "r.table('t').sum()",
    "r.table('t').sum('a')",
    "r.table('t').sum(lambda d: d['a'])",
    "r.table('t').avg('a')",
    "r.table('t').min('a')",
    "r.table('t').min(index='a')",
    "r.table('t').max('a')",
    "r.table('t').max(lambda d: d['a'])",
    "r.table('t').max(index='a')",
    "r.group(r.table('t'), 'a')",
    "r.reduce(r.table('t'), lambda a, b: a + b)",
    "r.count(r.table('t'))",
    "r.sum(r.table('t'), 'a')",
    "r.avg(r.table('t'), 'a')",
    "r.min(r.table('t'), 'a')",
    "r.max(r.table('t'), 'a')",
    "r.distinct(r.table('t'))",
    "r.contains(r.table('t'), 1)",
    "r.asc('a')",
    "r.desc('a')",
    "r.asc(r.row['a'])",
    # writes
    "r.table('t').insert({'a': 1})",
    "r.table('t').insert([{'a': 1}, {'a': 2}])",
    "r.table('t').insert({'a': 1}, conflict='replace', durability='soft')",
    "r.table('t').insert({'a': 1}, conflict=lambda id, old, new: old.merge(new))",
    "r.table('t').insert({'a': 1}, return_changes=True)",
    "r.table('t').insert(r.table('u'))",
    "r.table('t').get(1).update({'a': 2})",
    "r.table('t').update({'a': r.row['a'] + 1})",
    "r.table('t').update(lambda d: {'a': d['a'] + 1}, non_atomic=True)",
    "r.table('t').update(r.branch(r.row['a'] > 1, {'b': 1}, {}))",
    "r.table('t').get(1).replace({'id': 1})",
    "r.table('t').get(1).replace(lambda d: d.without('a'))",
    "r.table('t').get(1).replace(r.row.without('a'))",
    "r.table('t').get(1).delete()",
    "r.table('t').delete(durability='soft', return_changes=True)",
    "r.table('t').sync()",
    # selections
    "r.table('t').get('key')",
    "r.table('t').get_all(1, 2, 3)",
    "r.table('t').get_all(1, index='a')",
    "r.table('t').get_all(r.args([1, 2]), index='a')",
    "r.table('t').get_all([1, 2], index='compound')",
    # admin
    "r.db_create('d')",
    "r.db_drop('d')",
    "r.db_list()",
    "r.table_create('t')",
    "r.table_create('t', primary_key='k', durability='soft')",
    "r.table_drop('t')",
    "r.table_list()",
    "r.db('d').table_create('t')",
    "r.db('d').table_create('t', shards=2, replicas=1)",
    "r.db('d').table_drop('t')",
    "r.db('d').table_list()",
    "r.db('d').config()",
    "r.db('d').wait()",
    "r.db('d').wait(wait_for='ready_for_writes', timeout=10)",
    "r.db('d').reconfigure(shards=1, replicas=1)",
    "r.db('d').rebalance()",
    "r.db('d').grant('bob', {'read': True})",
    "r.grant('bob', {'config': True})",
    "r.table('t').grant('bob', {'write': False})",
    "r.table('t').config()",
    "r.table('t').config().update({'name': 'u'})",
    "r.table('t').status()",
    "r.table('t').wait()",
    "r.table('t').reconfigure(shards=2, replicas=1, dry_run=True)",
    "r.table('t').rebalance()",
    "r.table('t').index_create('a')",
    "r.table('t').index_create('a', r.row['b'])",
    "r.table('t').index_create('a', lambda d: d['b'], multi=True)",
    "r.table('t').index_create('a', [r.row['b'], r.row['c']])",
    "r.table('t').index_create('loc', geo=True)",
    "r.table('t').index_drop('a')",
    "r.table('t').index_rename('a', 'b')",
    "r.table('t').index_rename('a', 'b', overwrite=True)",
    "r.table('t').index_list()",
    "r.table('t').index_status()",
    "r.table('t').index_status('a', 'b')",
    "r.table('t').index_wait()",
    "r.table('t').index_wait('a')",
    "r.table('t').set_write_hook(lambda ctx, old, new: new)",
    "r.table('t').set_write_hook(None)",
    "r.table('t').get_write_hook()",
    "r.table('t').uuid()",
    "r.db('rethinkdb').table('table_config').filter({'db': 'test'})",
    # time
    "r.now()",
    "r.time(2020, 1, 2, 'Z')",
    "r.time(2020, 1, 2, 3, 4, 5, '+02:00')",
    "r.epoch_time(1234567890)",
    "r.iso8601('2020-01-02T03:04:05Z')",
    "r.iso8601('2020-01-02T03:04:05', default_timezone='+01:00')",
    "r.now().to_iso8601()",
    "r.now().to_epoch_time()",
    "r.now().in_timezone('-08:00')",
    "r.now().during(r.time(2020, 1, 1, 'Z'), r.time(2021, 1, 1, 'Z'))",
    "r.now().during(r.now(), r.now(), left_bound='open', right_bound='closed')",
    "r.now().date()",
    "r.now().time_of_day()",
    "r.now().timezone()",
    "r.now().year()",
    "r.now().month()",
    "r.now().day()",
    "r.now().day_of_week()",
    "r.now().day_of_year()",
    "r.now().hours()",
    "r.now().minutes()",
    "r.now().seconds()",
    "r.now().day_of_week() == r.monday",
    "r.now().month() == r.december",
    "r.expr([r.monday, r.tuesday, r.wednesday, r.thursday, r.friday, r.saturday, r.sunday])",
    "r.expr([r.january, r.february, r.march, r.april, r.may, r.june, r.july])",
    "r.expr([r.august, r.september, r.october, r.november, r.december])",
    "r.expr([r.minval, r.maxval])",
    "r.table('t').filter(lambda d: d['t'] > datetime.datetime(2020, 1, 1, tzinfo=UTC))",
    # geometry
    "r.point(-122.4, 37.7)",
    "r.line([0, 0], [1, 1])",
    "r.line(r.point(0, 0), r.point(1, 1))",
    "r.polygon([0, 0], [1, 0], [1, 1])",
    "r.circle([0, 0], 10)",
    "r.circle(r.point(0, 0), 10, unit='km', num_vertices=16, fill=False)",
    "r.geojson({'type': 'Point', 'coordinates': [0, 0]})",
    "r.point(0, 0).to_geojson()",
    "r.distance(r.point(0, 0), r.point(1, 1))",
    "r.distance(r.point(0, 0), r.point(1, 1), unit='km', geo_system='WGS84')",
    "r.point(0, 0).distance(r.point(1, 1))",
    "r.intersects(r.point(0, 0), r.circle([0, 0], 1))",
    "r.circle([0, 0], 1).intersects(r.point(0, 0))",
    "r.circle([0, 0], 1).includes(r.point(0, 0))",
    "r.line([0, 0], [1, 0], [1, 1]).fill()",
    "r.polygon([0, 0], [2, 0], [2, 2]).polygon_sub(r.polygon([0, 0], [1, 0], [1, 1]))",
    "r.table('t').get_intersecting(r.point(0, 0), index='loc')",
    "r.table('t').get_nearest(r.point(0, 0), index='loc', max_results=5)",
    # nested functions and r.row in odd places
    "r.table('t').map(lambda d: r.table('u').filter(lambda u: u['id'] == d['uid']).count())",
    "r.table('t').filter(lambda d: r.expr([1, 2]).contains(lambda x: x == d['a']))",
    "r.table('t').filter(lambda d: d['tags'].contains(r.row == 'a'))",
    "r.table('t').map(lambda d: r.branch(d['a'], r.row['b'], 0))",
    "r.expr([1, 2]).map(lambda x: [x, r.row])",
    "r.expr([[1, 2]]).map(lambda x: x.map(lambda y: y * 2))",
    "r.table('t').filter(r.row['a'].default(0) > 1)",
    "r.table('t').filter(r.row.has_fields('a'))",
    "r.table('t').filter(r.row['a'].match('^x'))",
    "r.table('t').filter((r.row['a'] > 1) & (r.row['b'] < 2))",
    "r.table('t').filter((r.row['a'] > 1) | ~(r.row['b'] < 2))",
    "r.table('t').filter(r.and_(r.row['a'], r.or_(r.row['b'], r.row['c'])))",
    "r.table('t').pluck('a').filter({'a': r.row['a']}).count()",
    "r.expr({'a': r.row})",
    "r.table('t').get(1).do(lambda d: r.branch(d, d, r.error('missing')))",
]


NAMES = {"datetime": datetime, "UTC": UTC, "PLUS2": PLUS2}


def ours(src: str):
    """``src`` built by our driver, lambda variables numbered from 1 (as in ``official``)."""
    our_ast._var_ids = itertools.count(1)
    return eval(src, {**NAMES, "r": our_r})


def official(src: str):
    official_ast.Func.nextVarId = 1
    return eval(src, {**NAMES, "r": rethinkdb.r})


def official_build(query) -> object:
    return json.loads(official_ast.ReQLEncoder().encode(query))


@pytest.mark.parametrize("src", QUERIES)
def test_build_matches_official(src):
    assert ours(src).build() == official_build(official(src))


@pytest.mark.parametrize("src", QUERIES)
def test_str_and_repr_match_official(src):
    mine, theirs = ours(src), official(src)
    assert str(mine) == str(theirs)
    assert repr(mine) == repr(theirs)


def test_enough_queries():
    assert len(QUERIES) >= 300
    assert len(set(QUERIES)) == len(QUERIES)


def test_build_is_plain_json():
    built = ours("r.table('t').filter(lambda d: d['a'] == 1).limit(2)").build()
    assert json.loads(json.dumps(built)) == built
    assert type(built[0]) is int


def test_lambdas_get_fresh_variables():
    q = ours("r.expr([1]).map(lambda x: r.expr([2]).map(lambda y: x + y))")
    outer = q.build()[1][1]
    inner = outer[1][1][1][1]
    assert outer[1][0] == [2, [1]] and inner[1][0] == [2, [2]]


def test_arity_from_signature_of_any_callable():
    class Pair:
        def __call__(self, a, b):
            return a + b

    our_ast._var_ids = itertools.count(1)
    q = our_r.expr([1]).reduce(Pair())
    assert q.build()[1][1][1][0][1] == [1, 2]


# ---- the namespace and method surface matches the official driver's ---------------------


def _public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def test_namespace_has_every_official_function():
    official_names = set(rethinkdb.query.__all__) | {"expr", "RqlQuery"}
    missing = {n for n in official_names if not hasattr(our_r, n)}
    assert not missing


@pytest.mark.parametrize(
    "mine, theirs",
    [
        (our_r.expr(1), rethinkdb.r.expr(1)),
        (our_r.table("t"), rethinkdb.r.table("t")),
        (our_r.db("d"), rethinkdb.r.db("d")),
    ],
)
def test_every_official_method_exists(mine, theirs):
    missing = _public(theirs) - _public(mine)
    assert not missing


def test_table_only_methods_stay_on_tables():
    with pytest.raises(AttributeError):
        our_r.expr(1).insert({})  # noqa: B018
    assert not hasattr(our_r.table("t").get(1), "get_all")


# ---- errors raised while building ----------------------------------------------------------


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [18, 19, 20, 21])
def test_nesting_depth_limit_matches_official(depth):
    value = _nested(depth)
    try:
        rethinkdb.r.expr(value)
        expected = None
    except rethinkdb.errors.ReqlDriverCompileError as exc:
        expected = str(exc)
    if expected is None:
        our_r.expr(value)
    else:
        with pytest.raises(ReqlDriverCompileError) as info:
            our_r.expr(value)
        assert str(info.value) == expected == "Nesting depth limit exceeded."


def test_nesting_depth_argument():
    our_r.expr(_nested(4), nesting_depth=5)
    with pytest.raises(ReqlDriverCompileError, match="Nesting depth limit exceeded."):
        our_r.expr(_nested(5), nesting_depth=5)
    with pytest.raises(ReqlDriverCompileError, match="Nesting depth limit exceeded."):
        our_r.expr({"a": {"b": {"c": 1}}}, 3)
    with pytest.raises(ReqlDriverCompileError, match="must be a number"):
        our_r.expr(1, nesting_depth="x")
    # Every term restarts the count, as upstream: 19 levels inside insert() are fine.
    our_r.table("t").insert(_nested(19))


@pytest.mark.parametrize(
    "src",
    [
        "r.expr(datetime.datetime(2020, 1, 1))",
        "r.expr(datetime.date(2020, 1, 1))",
        "r.binary('text')",
        "r.binary(12)",
        "r.expr({1: 2})",
        "r.expr({'a': [{'b': {2: 3}}]})",
        "r.expr(1) < (r.expr(1) | 2)",
        "(r.expr(True) & False) == 1",
        "r.do()",
    ],
)
def test_build_errors_match_official(src):
    with pytest.raises(rethinkdb.errors.ReqlDriverCompileError) as theirs:
        official(src)
    with pytest.raises(ReqlDriverCompileError) as mine:
        ours(src)
    assert str(mine.value) == str(theirs.value)


def test_row_is_not_callable():
    with pytest.raises(TypeError, match="'r.row' is not callable"):
        our_r.row("a")


def test_query_is_not_iterable():
    with pytest.raises(ReqlDriverError, match="__iter__ called on an RqlQuery object"):
        list(our_r.table("t"))


def test_run_without_connection():
    with pytest.raises(ReqlDriverError, match="RqlQuery.run must be given a connection"):
        our_r.table("t").run()


def test_run_and_handle_delegate_to_the_connection():
    class Conn:
        def _start(self, query, optargs):
            return ("start", query, optargs)

        def _handle(self, query, handler):
            return ("handle", query, handler)

    q = our_r.table("t")
    conn = Conn()
    assert q.run(conn, db="d", durability="soft") == ("start", q, {"db": "d", "durability": "soft"})
    assert q.handle(conn, "h") == ("handle", q, "h")


def test_make_timezone():
    tz = our_r.make_timezone("-02:30")
    when = datetime.datetime(2020, 1, 1, tzinfo=tz)
    assert when.utcoffset() == -datetime.timedelta(hours=2, minutes=30)
    assert when.tzname() == "-02:30"
    assert our_r.make_timezone("+05:00").utcoffset(None) == datetime.timedelta(hours=5)


def test_literals_are_copied_when_the_query_is_built():
    doc = {"a": [1, 2], "b": {"c": 1}}
    q = our_r.table("t").insert(doc)
    doc["a"].append(3)
    doc["b"]["d"] = 2
    assert q.build() == [56, [[15, ["t"]], {"a": [2, [1, 2]], "b": {"c": 1}}]]
    assert str(q) == "r.table('t').insert(r.expr({'a': [1, 2], 'b': r.expr({'c': 1})}))"
