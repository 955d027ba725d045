"""`python -m service`: serve with uvicorn on the configured host and port."""

import uvicorn

from service.main import create_app
from service.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
