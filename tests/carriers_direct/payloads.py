"""Answers in each carrier's documented shape, written from its reference
(see the adapter modules' docstrings for which document and version)."""

from __future__ import annotations

from typing import Any

# -- UPS Track API v1 -------------------------------------------------------------


def ups_activity(
    kind: str,
    code: str = "",
    description: str = "",
    *,
    date: str = "20240110",
    time: str = "101500",
    city: str = "ATLANTA",
    state: str = "GA",
    country: str = "US",
    gmt: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "location": {
            "address": {
                "city": city,
                "stateProvince": state,
                "countryCode": country,
                "country": country,
                "postalCode": "30301",
            },
            "slic": "3046",
        },
        "status": {
            "type": kind,
            "code": code,
            "description": description or f"UPS {kind} {code}".strip(),
            "simplifiedTextDescription": description or kind,
            "statusCode": "003",
        },
        "date": date,
        "time": time,
    }
    if gmt is not None:
        activity["gmtDate"], activity["gmtTime"], activity["gmtOffset"] = gmt
    return activity


def ups_body(
    number: str,
    activities: list[dict[str, Any]],
    *,
    current: dict[str, Any] | None = None,
    delivery_dates: list[tuple[str, str]] = (),  # type: ignore[assignment]
    delivery_time: dict[str, str] | None = None,
) -> dict[str, Any]:
    package: dict[str, Any] = {
        "trackingNumber": number,
        "activity": activities,
        "deliveryDate": [{"type": t, "date": d} for t, d in delivery_dates],
        "packageAddress": [
            {"type": "ORIGIN", "address": {"city": "ATLANTA", "stateProvince": "GA",
                                           "countryCode": "US"}},
            {"type": "DESTINATION", "address": {"city": "SEATTLE", "stateProvince": "WA",
                                                "countryCode": "US"}},
        ],
        "packageCount": 1,
    }  # fmt: skip
    if current is not None:
        package["currentStatus"] = current
    if delivery_time is not None:
        package["deliveryTime"] = delivery_time
    return {
        "trackResponse": {
            "shipment": [{"inquiryNumber": number, "package": [package], "userRelation": []}]
        }
    }


def ups_error(code: str, message: str) -> dict[str, Any]:
    return {"response": {"errors": [{"code": code, "message": message}]}}


# -- FedEx Track API v1 -----------------------------------------------------------


def fedex_scan(
    code: str,
    description: str = "",
    *,
    date: str = "2024-01-10T10:15:00-05:00",
    city: str = "MEMPHIS",
    state: str = "TN",
    country: str = "US",
    exception: str = "",
) -> dict[str, Any]:
    return {
        "date": date,
        "eventType": code,
        "eventDescription": description or f"FedEx {code}",
        "exceptionCode": "",
        "exceptionDescription": exception,
        "scanLocation": {
            "streetLines": [""],
            "city": city,
            "stateOrProvinceCode": state,
            "postalCode": "38118",
            "countryCode": country,
            "residential": False,
            "countryName": "United States",
        },
        "locationType": "FEDEX_FACILITY",
        "derivedStatusCode": code,
        "derivedStatus": description or code,
    }


def fedex_result(
    number: str,
    scans: list[dict[str, Any]],
    *,
    latest: str | None = None,
    dates: list[tuple[str, str]] = (),  # type: ignore[assignment]
    window_ends: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "trackingNumberInfo": {
            "trackingNumber": number,
            "trackingNumberUniqueId": f"2460~{number}~FDEG",
            "carrierCode": "FDXG",
        },
        "scanEvents": scans,
        "dateAndTimes": [{"type": t, "dateTime": d} for t, d in dates],
        "recipientInformation": {
            "address": {"city": "SEATTLE", "stateOrProvinceCode": "WA", "countryCode": "US"}
        },
    }
    if latest is not None:
        result["latestStatusDetail"] = {
            "code": latest,
            "derivedCode": latest,
            "statusByLocale": f"status {latest}",
            "description": f"status {latest}",
            "ancillaryDetails": [],
        }
    if window_ends is not None:
        result["estimatedDeliveryTimeWindow"] = {"window": {"ends": window_ends}}
    return {"trackingNumber": number, "trackResults": [result]}


def fedex_not_found(number: str) -> dict[str, Any]:
    return {
        "trackingNumber": number,
        "trackResults": [
            {
                "trackingNumberInfo": {"trackingNumber": number},
                "error": {
                    "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                    "message": "Tracking number cannot be found. Please correct the tracking "
                    "number and try again.",
                },
            }
        ],
    }


def fedex_body(*complete: dict[str, Any]) -> dict[str, Any]:
    return {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "output": {"completeTrackResults": list(complete)},
    }


# -- USPS Tracking 3.0 ------------------------------------------------------------


def usps_event(
    code: str,
    kind: str = "",
    *,
    stamp: str = "2024-01-10T10:15:00",
    gmt: str | None = None,
    offset: str | None = None,
    city: str = "CHICAGO",
    state: str = "IL",
    country: str = "",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": kind or f"USPS event {code}",
        "eventTimestamp": stamp,
        "eventCountry": country,
        "eventCity": city,
        "eventState": state,
        "eventZIP": "60601",
        "firm": None,
        "name": None,
        "authorizedAgent": False,
        "eventCode": code,
    }
    if gmt is not None:
        event["GMTTimestamp"] = gmt
    if offset is not None:
        event["GMTOffset"] = offset
    return event


def usps_body(
    number: str,
    events: list[dict[str, Any]],
    *,
    category: str | None = "In Transit",
    status: str = "In Transit to Next Facility",
    expected: str | None = None,
    expected_date: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "trackingNumber": number,
        "mailClass": "Priority Mail",
        "destinationCity": "SEATTLE",
        "destinationState": "WA",
        "destinationZIP": "98101",
        "originCity": "CHICAGO",
        "originState": "IL",
        "status": status,
        "statusSummary": f"Your item is {status.lower()}.",
        "trackingEvents": events,
    }
    if category is not None:
        body["statusCategory"] = category
    if expected is not None:
        body["expectedDeliveryTimeStamp"] = expected
    if expected_date is not None:
        body["expectedDeliveryDate"] = expected_date
    return body


def usps_error(status: int, message: str, code: str = "404") -> dict[str, Any]:
    return {
        "apiVersion": "3.0",
        "error": {
            "code": code,
            "message": message,
            "errors": [{"status": str(status), "title": message, "detail": message}],
        },
    }


# -- DHL Shipment Tracking - Unified ------------------------------------------------


def dhl_event(
    code: str,
    status: str = "",
    description: str = "",
    *,
    stamp: str = "2024-01-10T10:15:00+01:00",
    country: str = "DE",
    locality: str = "Bonn",
) -> dict[str, Any]:
    return {
        "timestamp": stamp,
        "location": {
            "address": {"countryCode": country, "postalCode": "53113", "addressLocality": locality}
        },
        "statusCode": code,
        "status": status or code.upper(),
        "description": description or f"DHL {code}",
    }


def dhl_body(
    number: str,
    events: list[dict[str, Any]],
    *,
    service: str = "express",
    eta: str | None = None,
    through: str | None = None,
) -> dict[str, Any]:
    shipment: dict[str, Any] = {
        "id": number,
        "service": service,
        "origin": {"address": {"addressLocality": "Bonn", "countryCode": "DE"}},
        "destination": {"address": {"addressLocality": "Paris", "countryCode": "FR"}},
        "status": events[0] if events else {"statusCode": "unknown", "status": "UNKNOWN"},
        "events": events,
    }
    if eta is not None:
        shipment["estimatedTimeOfDelivery"] = eta
    if through is not None:
        shipment["estimatedDeliveryTimeFrame"] = {"estimatedThrough": through}
    return {"shipments": [shipment], "possibleAdditionalShipmentsUrl": []}


def dhl_problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "status": status, "detail": detail}
