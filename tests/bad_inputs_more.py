"""More functions chainrule must reject with a TransformError at the marked line (the second
half of the bad-input corpus; see tests/test_bad_input_more.py). A ``# LINE <marker>``
comment marks the line each error must name."""

import functools
import math

import numpy as np


def while_else(x):
    while x < 1.0:  # LINE while else
        x = x * 2.0
    else:
        x = x + 1.0
    return x


def del_item(x):
    y = x * 1.0
    del y[0]  # LINE del item
    return np.sum(y)


def starred_target(x):
    a, *rest = x  # LINE starred target
    return a * 2.0


def kwargs_param(x, **options):  # LINE kwargs param
    return x * 2.0


def generator_expression(x):
    return sum(v * 2.0 for v in x)  # LINE generator expression


def set_comprehension(x):
    return sum({v * 2.0 for v in x})  # LINE set comprehension


def dict_of_values(x):
    d = {"a": x * 2.0}  # LINE dict of values
    return d["a"]


def iterates_a_dict(x):
    d = {"a": x, "b": 2.0 * x}  # LINE dict iteration
    s = 0.0
    for k in d:
        s = s + d[k]
    return s


def set_of_values(x):
    s = {x, 2.0 * x}  # LINE set of values
    return max(s)


def unpacks_into_list(x):
    v = [*x]  # LINE unpack into list
    return v[0]


def no_rule_numpy(x):
    return np.median(x * 2.0)  # LINE median


def no_rule_math(x):
    return math.gamma(x)  # LINE gamma


def no_rule_linalg(a, b):
    return np.sum(np.linalg.lstsq(a, b, rcond=None)[0])  # LINE lstsq


def nested_generator(x):
    def gen():
        yield x * 2.0  # LINE nested yield

    return sum(gen())


def yield_from(x):  # LINE yield from
    yield from [x]


def lambda_star_args(x):
    f = lambda *a: a[0] * 2.0  # LINE lambda star args
    return f(x)


def nested_star_args(x):
    def inner(*a):  # LINE nested star args
        return a[0]

    return inner(x)


def lambda_default_reads_local(x):
    f = lambda v, k=x: v * k  # LINE nested default
    return f(x)


def sets_module_attribute(x):
    np.fuzz_value = x  # LINE module attribute
    return x


def calls_undefined_helper(x):
    return helper_never_defined(x) * 2.0  # noqa: F821  # LINE undefined helper


class Model:
    def loss(self, x):
        return x * 2.0

    def __call__(self, x):
        return x * 3.0


def calls_object_method(x):
    m = Model()
    return m.loss(x)  # LINE object method


def walrus_in_comprehension(x):
    return [y := v for v in [1, 2]]  # noqa: F841  # LINE walrus in comprehension


def nested_async(x):
    async def inner():  # LINE nested async
        return x

    return x


def nested_class(x):
    class Inner:  # LINE nested class
        scale = 2.0

    return x * Inner.scale


def nested_with(x):
    def inner(v):
        with open(v) as fh:  # LINE nested with
            return fh.read()

    return x


def returns_tuple(x):
    return x * 2.0, x


def modifies_iterated_array(x):
    for e in x:
        x *= np.tanh(e)  # LINE modifies iterated
    return np.sum(x)


def modifies_enumerated_array(x):
    s = 0.0
    for i, e in enumerate(x):
        s = s + e
        x += s  # LINE modifies enumerated
    return s


def modifies_array_behind_a_view(x):
    for e in reversed(x[1:] if x[0] > 0 else x):
        x *= 0.5  # LINE modifies viewed
    return np.sum(x)


def returns_list(x):
    return [x * 2.0]


def returns_string(x):
    return "x"


def returns_nothing_value(x):
    return None


def keyword_only(x, *, scale):
    return x * scale


def only_keyword_only(*, x):
    return x * 2.0


def two(x, y):
    return x * y


bound_method = Model().loss
callable_object = Model()
partial_function = functools.partial(keyword_only, scale=2.0)
lambda_from_eval = eval("lambda x: x * 2.0")
