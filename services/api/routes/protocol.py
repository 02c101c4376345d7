"""Device protocol v1 documentation: the JSON Schemas of device payloads. Public, no token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ingest.schemas import protocol_schemas
from rules.vocabulary import TOPIC_PREFIX
from services.api.deps import errors

router = APIRouter(prefix="/api/v1/protocol", tags=["protocol"])

# The media type of a JSON Schema document (draft 2020-12, section 14.2).
SCHEMA_MEDIA_TYPE = "application/schema+json"


class SchemaLink(BaseModel):
    stream: str
    title: str
    href: str


class SchemaIndex(BaseModel):
    topic: str
    schemas: list[SchemaLink]


@router.get("/schemas")
async def list_schemas(request: Request) -> SchemaIndex:
    return SchemaIndex(
        topic=f"{TOPIC_PREFIX}/{{site_id}}/{{device_id}}/{{stream}}",
        schemas=[
            SchemaLink(
                stream=stream,
                title=schema["title"],
                href=str(request.app.url_path_for("get_schema", stream=stream)),
            )
            for stream, schema in protocol_schemas().items()
        ],
    )


@router.get(
    "/schemas/{stream}",
    response_class=JSONResponse,
    responses={
        status.HTTP_200_OK: {"content": {SCHEMA_MEDIA_TYPE: {}}},
        **errors(status.HTTP_404_NOT_FOUND),
    },
)
async def get_schema(stream: str) -> JSONResponse:
    schemas = {str(name): schema for name, schema in protocol_schemas().items()}
    schema = schemas.get(stream)
    if schema is None:
        known = ", ".join(schemas)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unknown stream {stream[:64]!r}: protocol v1 streams are {known}",
        )
    return JSONResponse(schema, media_type=SCHEMA_MEDIA_TYPE)
