"""Functions chainrule.grad must reject with a TransformError at the right line."""

import numpy as np


def uses_try(x):
    try:  # LINE try
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_with(x):
    with open("f") as fh:  # LINE with
        fh.read()
    return x


def uses_yield(x):
    yield x * 2.0  # LINE yield


async def uses_async(x):
    return x


def uses_global(x):
    global COUNTER  # LINE global
    COUNTER = x
    return x


def uses_nonlocal_outer():
    total = 0.0

    def inner(x):
        nonlocal total  # LINE nonlocal
        total = x
        return x

    return inner


uses_nonlocal = uses_nonlocal_outer()


def uses_del(x):
    y = x * 2.0
    del y  # LINE del
    return x


def uses_import(x):
    import math  # LINE import

    return math.sin(x)


def uses_class(x):
    class A:  # LINE class
        pass

    return x


def uses_walrus(x):
    if (y := x * 2.0) > 1:  # LINE walrus
        return y
    return x


def uses_for_else(x):
    for i in range(3):  # LINE loop else
        x = x * 2.0
    else:
        x = x + 1.0
    return x


def uses_starred_call(x):
    args = (x, 2.0)
    return np.power(*args)  # LINE starred argument


def uses_kwargs_call(x):
    kw = {"axis": 0}
    return np.sum(x, **kw)  # LINE ** argument


def uses_attribute_store(x):
    x.value = 3.0  # LINE attribute assignment
    return x


def star_params(*xs):
    return xs[0]


def undefined_name(x):
    return x * not_defined_anywhere(x)  # noqa: F821  # LINE unresolved name


def no_rule_builtin(x):
    return np.frompyfunc(lambda v: v, 1, 1)(x)  # LINE no rule


def uses_comprehension(x):
    ys = [v * 2.0 for v in x]  # LINE comprehension
    return ys[0]


def unknown_method(x):
    y = x * 1.0
    y.sort()
    return y.cumprod().tolist()[0]  # LINE method


def nested_subscript_store(x):
    y = np.zeros((2, 2))
    y[0][1] = x  # LINE nested subscript assignment
    return np.sum(y)


def no_return(x):
    y = x * 2.0  # noqa: F841


def match_stmt(x):
    match x:  # LINE match
        case 1.0:
            return x
    return x
