"""HTTP routes; `router` collects them all for the app factory."""

from fastapi import APIRouter

from service.api import demo, generate, health, metrics, models, render, solve, solve_image

router = APIRouter()
for module in (health, models, metrics, solve, solve_image, render, generate, demo):
    router.include_router(module.router)
