"""The python-api example: one function serving three REST API routes.

`GET /hello` answers like the hello-world function of `sam init`;
`GET /items/{id}` reads a path parameter; `POST /items` reads a JSON body.
"""

import json
import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)

ITEMS = {
    "42": {"id": "42", "name": "towel", "price": 4.2},
    "7": {"id": "7", "name": "kettle", "price": 35.0},
}


def lambda_handler(event, context):
    """Dispatches on the API Gateway resource that matched the request.

    Parameters
    ----------
    event: dict, required
        API Gateway Lambda Proxy Input Format (REST API, payload version 1.0).
    context: object, required
        Lambda Context runtime methods and attributes.

    Returns
    -------
    dict
        API Gateway Lambda Proxy Output Format.
    """
    route = "{} {}".format(event.get("httpMethod"), event.get("resource"))
    logger.info("handling %s", route)
    if route == "GET /hello":
        return respond(200, {"message": os.environ.get("GREETING", "hello world")})
    if route == "GET /items/{id}":
        return get_item((event.get("pathParameters") or {}).get("id"), context)
    if route == "POST /items":
        return create_item(event.get("body"), context)
    return respond(404, {"message": "no route for {}".format(route)})


def get_item(item_id, context):
    item = ITEMS.get(item_id)
    if item is None:
        return respond(404, {"message": "no item {}".format(item_id)})
    return respond(200, dict(item, requestId=context.aws_request_id))


def create_item(body, context):
    try:
        item = json.loads(body or "")
    except ValueError as error:
        return respond(400, {"message": "the body is not JSON: {}".format(error)})
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return respond(400, {"message": "an item needs a string `name`"})
    created = {"id": context.aws_request_id, "name": item["name"], "price": item.get("price")}
    logger.info("created item %s", created["id"])
    return respond(201, created)


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
